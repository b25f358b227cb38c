"""A purge deciding that bytes are unreferenced must not race a write that is
adding a reference to them: the write holds the bytes' row share-locked until
it commits, and the purge locks the rows before a later statement checks
their references, so it sees the new reference and keeps the bytes."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from convostore import ImagePart, Message
from convostore.errors import AttachmentNotFoundError

pytestmark = pytest.mark.postgres

IMAGE = b"\x89PNG shared by two threads"


def test_a_purge_waits_for_a_write_referencing_the_same_bytes(
    store: Any, pg_url: str, schema: str
) -> None:
    a, b = store.create_thread(), store.create_thread()
    stored = store.append(a.id, Message.user("x").with_parts(ImagePart(data=IMAGE)))
    ref = stored[0].parts[0].attachment
    sha = ref.removeprefix("sha256:")
    # Another writer's Attach, held open: it has share-locked the bytes (as the
    # store's own attach does) and recorded a reference from thread b.
    writer = psycopg.connect(pg_url)
    writer.execute(
        f'SELECT 1 FROM "{schema}".convostore_attachments '
        "WHERE tenant_id = 'default' AND sha256 = %s FOR SHARE",
        (sha,),
    )
    writer.execute(
        f'INSERT INTO "{schema}".convostore_attachment_refs '
        "(tenant_id, sha256, thread_id, message_id, created_at) "
        "VALUES ('default', %s, %s, 'm-in-flight', now())",
        (sha, b.id),
    )
    done = threading.Event()
    purger = threading.Thread(target=lambda: (store.purge_thread(a.id), done.set()))
    purger.start()
    time.sleep(0.5)
    assert not done.is_set(), "the purge must wait for the write holding the bytes"
    writer.commit()
    writer.close()
    purger.join(timeout=10)
    assert done.is_set()
    # Thread a is gone, the bytes stay for thread b's reference.
    assert store.get_attachment(ref).data == IMAGE
    store.append(b.id, Message.user("y", id="m-in-flight").with_parts(ImagePart(attachment=ref)))
    store.purge_thread(b.id)
    with pytest.raises(AttachmentNotFoundError):
        store.get_attachment(ref)
