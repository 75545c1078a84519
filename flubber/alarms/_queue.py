"""A bounded queue that never blocks its producer: the oldest item makes room."""
import gevent.queue


def put_dropping_oldest(queue, item):
    """Put *item* into the bounded gevent *queue*; return how many old items were dropped to make room."""
    dropped = 0
    while True:
        try:
            queue.put_nowait(item)
            return dropped
        except gevent.queue.Full:
            try:
                queue.get_nowait()
                dropped += 1
            except gevent.queue.Empty:
                pass
