# Shared by the GGUF reference scripts: imports llama.cpp's gguf-py (fetched by fetch_llama_cpp.sh into
# tests/vendor/, never committed) and exits with status 2 when it is not available, which the C
# tests turn into a visible skip.
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))


def import_gguf():
    try:
        path = subprocess.run(["sh", os.path.join(here, "fetch_llama_cpp.sh")], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"cannot fetch llama.cpp: {e}", file=sys.stderr)
        sys.exit(2)
    sys.path.insert(0, os.path.join(path, "gguf-py"))
    try:
        import gguf  # noqa: F401
    except ImportError as e:
        print(f"cannot import gguf-py: {e}", file=sys.stderr)
        sys.exit(2)
    return gguf
