"""PaddleHub's Task introspection: variable(name), metric_variable_names(), and the network
traced with paddle.jit.to_static into main, inference and startup Programs."""
import paddle
import pytest

import hubtrain as hub


def _op_names(program):
    return [op.name() for op in program.global_block().ops]


class LastLogs(paddle.callbacks.Callback):
    """What hapi logged for the last training step."""

    def on_train_batch_end(self, step, logs=None):
        self.logs = dict(logs or {})


def test_variable_returns_the_last_loss_metric_and_output(tmp_path, digits, backbone):
    train, dev, _ = digits
    task = hub.ClassifierTask(backbone, num_classes=10, feature_dim=64,
                              config=hub.RunConfig(num_epoch=2, batch_size=64, log_interval=1000,
                                                   checkpoint_dir=str(tmp_path / "ckpt")))
    assert task.metric_variable_names() == ["loss", "acc"]
    assert task.variable("loss") is None  # a name the task has, before a run gave it a value
    with pytest.raises(ValueError, match="known: loss, acc, logits"):
        task.variable("accuracy")

    last = LastLogs()
    task.finetune(train, callbacks=[last])
    assert float(task.variable("loss")) == pytest.approx(last.logs["loss"][0], rel=1e-6)
    assert float(task.variable("acc")) == pytest.approx(last.logs["acc"], rel=1e-6)
    assert task.variable("logits").shape[1] == 10

    task.eval("dev", dataset=dev)
    result = task.last_result("dev")
    assert float(task.variable("loss")) == pytest.approx(result["loss"])  # the split's, not the last batch's
    assert float(task.variable("acc")) == pytest.approx(result["acc"])

    task.predict(dev, batch_size=300)  # predict reports probabilities, under their own name
    assert task.variable("probs").shape == (300, 10)
    task.predict(data=[dev[0][0], dev[1][0]])
    probs = task.variable("probs")
    assert probs.shape == (2, 10) and probs.sum(axis=1) == pytest.approx([1.0, 1.0], rel=1e-5)


def test_programs_are_traced_from_the_network(tmp_path, tiny_bert_dir):
    module = hub.Module(directory=tiny_bert_dir)
    inputs, outputs, program = module.context(trainable=True, max_seq_len=32)
    task = hub.TextClassifierTask(feature=outputs["pooled_output"], num_classes=2,
                                  config=hub.RunConfig(checkpoint_dir=str(tmp_path / "ckpt")))
    main, inference, startup = task.main_program(), task.inference_program(), task.startup_program()
    for program in (main, inference, startup):
        assert isinstance(program, paddle.pir.Program)  # Paddle 3's static Program (PIR)
    main_ops, inference_ops = _op_names(main), _op_names(inference)
    assert sum(name == "pd_op.data" for name in main_ops) == 5  # four inputs and the label
    assert sum(name == "pd_op.data" for name in inference_ops) == 4
    assert "pd_op.cross_entropy_with_softmax" in main_ops and "pd_op.cross_entropy_with_softmax" not in inference_ops
    assert any("matmul" in name for name in inference_ops) and len(_op_names(startup)) > 0
    assert task.main_program() is main  # traced once
    assert task.network.training  # tracing leaves the network's mode alone


def test_crf_program_holds_the_time_loops(tmp_path, tiny_bert_dir):
    module = hub.Module(directory=tiny_bert_dir)  # a module as the feature gives its sequence_output
    task = hub.create_seq_label_task(module, max_seq_len=32, num_classes=3, add_crf=True,
                                     label_list=["B-X", "I-X", "O"])
    main_ops, inference_ops = _op_names(task.main_program()), _op_names(task.inference_program())
    assert "pd_op.while" in main_ops and "pd_op.logsumexp" in main_ops  # forward algorithm and Viterbi
    assert "pd_op.while" in inference_ops and "pd_op.logsumexp" not in inference_ops  # Viterbi only
    assert sum(name == "pd_op.data" for name in inference_ops) == 5  # the backbone's four and seq_len


def test_tracing_waits_for_input_shapes(tmp_path, digits, backbone):
    task = hub.ClassifierTask(backbone, num_classes=10, feature_dim=64,
                              config=hub.RunConfig(num_epoch=1, batch_size=64, checkpoint_dir=str(tmp_path / "c")))
    with pytest.raises(ValueError, match="run a batch first"):
        task.inference_program()
    task.finetune(digits[0])
    assert "pd_op.matmul" in _op_names(task.inference_program())
