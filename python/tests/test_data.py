"""Tests of softrwlock.data_begin / data_end (the user's data under the lock) on real files.

Whether they make another client's bytes visible is measured on GlusterFS and MooseFS by
tests/netfs/data-test.py and data-probe.py; here: what each accepts, that a file object's own
buffer is flushed by data_end, and the errors.
"""

import os
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import softrwlock  # noqa: E402


class DataTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "counter")
        with open(self.path, "w") as f:
            f.write("41\n")

    def tearDown(self):
        self.dir.cleanup()

    def test_fd_path_and_pathlike(self):
        fd = os.open(self.path, os.O_RDWR)
        try:
            softrwlock.data_begin(fd)
            os.pwrite(fd, b"42\n", 0)
            softrwlock.data_end(fd)
        finally:
            os.close(fd)
        softrwlock.data_begin(self.path)
        softrwlock.data_end(os.fsencode(self.path))
        softrwlock.data_end(pathlib.Path(self.path))
        with open(self.path) as f:
            self.assertEqual(f.read(), "42\n")

    def test_file_object_is_flushed_by_data_end(self):
        with open(self.path, "r+") as f:
            softrwlock.data_begin(f)
            f.write("43\n")  # in Python's buffer, not yet in the file
            softrwlock.data_end(f)
            fd = os.open(self.path, os.O_RDONLY)
            try:
                self.assertEqual(os.pread(fd, 16, 0), b"43\n")
            finally:
                os.close(fd)

    def test_errors(self):
        with self.assertRaises(softrwlock.Invalid) as e:
            softrwlock.data_begin(-1)
        self.assertIn("EBADF", str(e.exception))
        with self.assertRaises(softrwlock.IOFailure) as e:
            softrwlock.data_end(os.path.join(self.dir.name, "missing"))
        self.assertIn("ENOENT", str(e.exception))
        self.assertIn("missing", str(e.exception))
        link = os.path.join(self.dir.name, "link")
        os.symlink(self.path, link)
        with self.assertRaises(softrwlock.Unsafe) as e:
            softrwlock.data_begin(link)
        self.assertIn("symlink", str(e.exception))
        with self.assertRaises(softrwlock.Unsafe):
            softrwlock.data_end(self.dir.name)


if __name__ == "__main__":
    unittest.main()
