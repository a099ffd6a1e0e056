"""Poll input files for changes and debounce them, for ``xds serve --watch``.

Polling (mtime, size, inode) every 50 ms is portable and cheap for config-sized trees; a burst of writes
(an editor's save, ``kubectl``-style multi-file updates) is folded into one reload once the tree has been
quiet for the debounce interval.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger("meshctl.xds")

Stamp = dict[str, tuple[int, int, int]]


def stamp(paths: Sequence[str]) -> Stamp:
    """``path -> (mtime_ns, size, inode)`` of every YAML/JSON file under ``paths`` (plus the paths themselves)."""
    from meshctl.sources.yaml_loader import expand_paths

    out: Stamp = {}
    try:
        files = expand_paths([p for p in paths if p != "-"])
    except Exception:  # a path vanished mid-edit: report what exists
        files = [p for p in paths if os.path.exists(p)]
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            continue
        out[f] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return out


async def watch_files(
    paths: Sequence[str],
    on_change: Callable[[], Awaitable[None]],
    *,
    interval: float = 0.05,
    debounce: float = 0.1,
) -> None:
    """Call ``on_change()`` after the files under ``paths`` change and then stay unchanged for ``debounce`` s."""
    last = await asyncio.to_thread(stamp, paths)
    while True:
        await asyncio.sleep(interval)
        now = await asyncio.to_thread(stamp, paths)
        if now == last:
            continue
        # Debounce: wait until a full quiet period passes without further changes.
        while True:
            await asyncio.sleep(debounce)
            settled = await asyncio.to_thread(stamp, paths)
            if settled == now:
                break
            now = settled
        changed = sorted(k for k in set(now) | set(last) if now.get(k) != last.get(k))
        last = now
        log.debug("xds: files changed: %s", changed)
        await on_change()
