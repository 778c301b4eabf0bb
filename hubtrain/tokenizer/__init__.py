"""PaddleHub 1.8's `paddlehub.tokenizer` paths: `bert_tokenizer` and `tokenizer` are hubtrain's
data.tokenizers module (BertTokenizer, ErnieTinyTokenizer, CustomTokenizer; see
compat/paddlehub_paths.py)."""
from ..compat.paddlehub_paths import name_submodules

name_submodules(__name__)
