"""How every ``lightcnn`` command ends: user-fixable errors as one line and exit 2, SIGTERM as
143, lightcnn's own bugs as tracebacks. Imports nothing heavy, so the tools' argument errors
answer before torch and Lightning are imported."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from lightcnn.errors import LightCNNError, user_error_in


def _is_sigterm(err: BaseException) -> bool:
    lightning = sys.modules.get("lightning.pytorch.utilities.exceptions")  # only raised once Lightning runs
    return lightning is not None and isinstance(err, lightning.SIGTERMException)


def guarded(body: Callable[[], int], argv: list[str]) -> int:
    """Run ``body`` and return its exit status, or print the error's one line and return 2."""
    try:
        return body()
    except LightCNNError as err:
        print(f"lightcnn: error: {err}", file=sys.stderr)
        return 2
    except argparse.ArgumentError as err:
        from lightcnn.config_errors import config_files_in, explain

        print(f"lightcnn: error: {explain(str(err), config_files_in(argv))}", file=sys.stderr)
        return 2
    except Exception as err:
        # jsonargparse wraps errors raised while instantiating classes; show ours unwrapped.
        cause = user_error_in(err)
        if cause is None:
            raise
        print(f"lightcnn: error: {cause}", file=sys.stderr)
        return 2
    except SystemExit as err:
        if _is_sigterm(err):
            # Lightning's SystemExit without a code: exit 0 would tell schedulers, `timeout`, `docker stop` "success"
            print("lightcnn: stopped by SIGTERM; the run keeps its checkpoints of the epochs that finished "
                  "(resume with --ckpt_path last)", file=sys.stderr)
            return 128 + signal.SIGTERM
        raise
