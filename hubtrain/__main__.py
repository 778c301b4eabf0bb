"""`python -m hubtrain ...` (also a script path for `python -m paddle.distributed.launch`)."""
import sys

from hubtrain.cli import main

if __name__ == "__main__":
    sys.exit(main())
