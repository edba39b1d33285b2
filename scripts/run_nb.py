#!/usr/bin/python3
"""Execute a notebook headless with the Deno kernel and check its outputs.

Usage: run_nb.py SRC.ipynb DST.ipynb

nbclient stops collecting a cell's outputs when the kernel reports idle, but the Deno kernel sometimes
publishes output a millisecond after that (see ../shared/design/toolchain.md), so stock nbconvert drops
outputs at random. This client keeps draining the iopub channel for a short grace period after idle.
It exits non-zero when any cell raises, or when a code cell tagged "display" has no output at all.
"""
import asyncio
import os
import sys
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError
from nbclient.util import ensure_async

GRACE_S = 0.5


class GraceClient(NotebookClient):
    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GRACE_S
        while (remaining := deadline - loop.time()) > 0:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=remaining))
            except Empty:
                break
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    pass


def main(src: str, dst: str) -> int:
    nb = nbformat.read(src, as_version=4)
    client = GraceClient(
        nb,
        timeout=1200,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "deno"),
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}},
    )
    failed = None
    try:
        client.execute()
    except CellExecutionError as e:
        failed = str(e).strip().splitlines()[-1] if str(e).strip() else "a cell raised"
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    nbformat.write(nb, dst)
    if failed:
        print(f"error: {src}: {failed}", file=sys.stderr)
        return 1
    missing = [
        i for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "display" in c.metadata.get("tags", []) and not c.get("outputs")
    ]
    if missing:
        print(f"error: {src}: code cell(s) {missing} tagged 'display' produced no output", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: run_nb.py SRC.ipynb DST.ipynb", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
