"""kernel.apimachinery.meta: the UIDs the server makes (object uids, audit IDs)."""

from __future__ import annotations

import os
import uuid

from kernel.apimachinery.meta import new_uid


def test_new_uid_is_a_random_uuid() -> None:
    uids = [new_uid() for _ in range(1000)]  # several 4 KiB pools of random bytes
    assert len(set(uids)) == len(uids)
    for text in uids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # canonical form: lower-case hex, 8-4-4-4-12
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_forked_child_does_not_repeat_the_parents_uids() -> None:
    new_uid()  # the pool holds unused random bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next UID and leave at once
        os.write(write, new_uid().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert uuid.UUID(child).version == 4
    assert child != new_uid()
