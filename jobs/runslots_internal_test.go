package jobs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRunSlotsStartQueuedFiresInOrderAsSlotsFree pins the queue of fires
// waiting for a run slot: a fire starts at once while a slot is free,
// waits (as an entry, not a goroutine) while none is, starts in order when
// one is released by anyone, and is dropped when the scheduler stops.
func TestRunSlotsStartQueuedFiresInOrderAsSlotsFree(t *testing.T) {
	t.Parallel()
	r := newRunSlots(2)
	started := make(chan int, 10)
	releases := make(chan func(), 10)
	dropped := make(chan int, 10)
	waiter := func(i int) slotWaiter {
		return slotWaiter{
			start: func(release func()) { started <- i; releases <- release },
			drop:  func() { dropped <- i },
		}
	}
	next := func() int {
		t.Helper()
		select {
		case i := <-started:
			return i
		case <-time.After(10 * time.Second):
			t.Fatal("no queued fire started")
			return 0
		}
	}
	for i := 1; i <= 5; i++ {
		r.queue(waiter(i))
	}
	require.ElementsMatch(t, []int{1, 2}, []int{next(), next()}, "two slots, two fires started")
	require.Equal(t, 3, queued(r))

	(<-releases)()
	require.Equal(t, 3, next())
	require.Equal(t, 2, queued(r))
	// A slot taken and given back by another waiter (a run on demand,
	// blocking on the channel) starts a queued fire too.
	(<-releases)()
	require.Equal(t, 4, next())
	otherDone := make(chan struct{})
	go func() { r.ch <- struct{}{}; r.release(); close(otherDone) }()
	(<-releases)()
	select {
	case i := <-started:
		require.Equal(t, 5, i)
		(<-releases)()
	case i := <-dropped:
		t.Fatalf("fire %d dropped", i)
	case <-time.After(10 * time.Second):
		t.Fatal("fire 5 never started")
	}
	(<-releases)() // fire 5's
	<-otherDone
	require.Empty(t, r.ch, "every slot is back")

	for i := 6; i <= 8; i++ {
		r.queue(waiter(i))
	}
	require.ElementsMatch(t, []int{6, 7}, []int{next(), next()})
	r.close()
	require.Equal(t, 8, <-dropped, "a fire still waiting when the scheduler stops is dropped")
	r.queue(waiter(9))
	require.Equal(t, 9, <-dropped, "a fire queued after the stop is dropped")
	(<-releases)()
	(<-releases)()
	require.Empty(t, r.ch, "every slot is back")
}

func queued(r *runSlots) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiting)
}
