"""The process pool every stage uses."""

import subprocess
import sys
import textwrap

# OpenCV's pool is started in the parent (a parallel resize), then workers run OpenCV themselves.
_AFTER_OPENCV = textwrap.dedent("""
    import cv2, numpy as np
    from neovert import burned_in
    from neovert.parallel import pool_map

    def work(seed):  # deid's text search: it sets OpenCV to one thread, where a stale pool hangs
        pixels = (np.random.default_rng(seed).random((300, 300)) * 4000).astype(np.uint16)
        return burned_in.scrub(pixels, [], False).pixels.shape

    cv2.resize(np.ones((3000, 3000), np.float32), None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    threads = cv2.getNumThreads()
    print(list(pool_map(work, [1, 2, 3, 4], workers=2)), cv2.getNumThreads() == threads)
""")


def test_workers_forked_after_opencv_ran_in_the_parent_do_not_hang():
    """Without the fork hooks in neovert.parallel the workers wait forever on threads that only
    the parent has; the parent keeps its own OpenCV thread count."""
    run = subprocess.run([sys.executable, "-c", _AFTER_OPENCV], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[(300, 300), (300, 300), (300, 300), (300, 300)] True"
