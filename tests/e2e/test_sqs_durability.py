"""A message acknowledged by SendMessage(Batch) survives `kill -9` of the
server (issue 14): a client sends 1,000 messages in batches while another
receives some without deleting them (in flight); the server is killed with
SIGKILL mid-way and restarted on the same data directory; the client
sends again what was never acknowledged; every acknowledged message, and
every one in flight at the kill, is then received (at least once), and all
1,000 are counted: none is lost."""

from __future__ import annotations

import threading

from support import aws_client, wait_for

N = 1000


def test_kill_9_loses_no_acknowledged_message(own_server, tmp_path):
    data = tmp_path / "data"
    srv = own_server(data)
    sqs = aws_client(srv.url, "sqs", max_pool_connections=4)
    url = sqs.create_queue(QueueName="durable")["QueueUrl"]
    acked: set[str] = set()
    in_flight: set[str] = set()
    stop = threading.Event()
    half = threading.Event()

    def sender():
        client = aws_client(srv.url, "sqs")
        for start in range(0, N, 10):
            entries = [{"Id": f"m{i}", "MessageBody": f"message-{i}"} for i in range(start, start + 10)]
            try:
                out = client.send_message_batch(QueueUrl=url, Entries=entries)
            except Exception:  # the server died: what was not acknowledged may be lost
                return
            for s in out.get("Successful", []):
                acked.add(f"message-{s['Id'][1:]}")
            if len(acked) >= N // 2:
                half.set()

    def receiver():
        client = aws_client(srv.url, "sqs")
        while not stop.is_set():
            try:
                # A short visibility: what is in flight at the kill comes back soon after.
                got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=3)
            except Exception:
                return
            # Received, never deleted: in flight at the kill.
            in_flight.update(m["Body"] for m in got.get("Messages", []))

    threads = [threading.Thread(target=sender), threading.Thread(target=receiver)]
    for t in threads:
        t.start()
    assert half.wait(120), "half the messages were never acknowledged"
    srv.kill()
    stop.set()
    for t in threads:
        t.join(60)
    assert len(acked) >= N // 2
    assert in_flight, "no message was in flight at the kill"
    # Restart on the same data.
    srv = own_server(data)
    sqs = aws_client(srv.url, "sqs")
    url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
    # The client sends again what was never acknowledged, as a producer would.
    unacked = [i for i in range(N) if f"message-{i}" not in acked]
    for start in range(0, len(unacked), 10):
        batch = unacked[start:start + 10]
        out = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"m{i}", "MessageBody": f"message-{i}"} for i in batch])
        assert len(out["Successful"]) == len(batch), out
    everything = {f"message-{i}" for i in range(N)}
    seen: dict[str, int] = {}

    def drained():
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            seen[m["Body"]] = seen.get(m["Body"], 0) + 1
        if got:
            out = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]}
                                                                  for k, m in enumerate(got)])
            assert not out.get("Failed"), out
        # Everything acknowledged, and everything received before the kill
        # (stored, never deleted), is back; then the queue is empty.
        return everything <= set(seen) and in_flight <= set(seen) and not got

    wait_for(drained, timeout=300, interval=0, what="every acknowledged message")
    lost = acked - set(seen)
    assert not lost, f"{len(lost)} acknowledged messages lost: {sorted(lost)[:10]}"
    assert in_flight <= set(seen)
    assert set(seen) == everything
    print(f"acknowledged before the kill: {len(acked)}, in flight: {len(in_flight)}, received after: {len(seen)}")
