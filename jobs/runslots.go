package jobs

import "sync"

// runSlots are the MaxConcurrentRuns slots of a Scheduler, shared with
// the Triggers that name it (Trigger.Slots).
//
// A fire waits for a slot before it claims (Scheduler.fire) as an entry
// in a queue, not as a goroutine: a thousand jobs firing at the same
// second on a replica with ten slots are a thousand small entries, and ten
// goroutines at a time. Other waiters (runs on demand, queued fires,
// retries) block on the channel; every release starts queued fires while
// slots are free, so no fire waits behind a free slot.
type runSlots struct {
	ch chan struct{} // one value per slot in use

	mu      sync.Mutex
	waiting []slotWaiter // oldest first
	closed  bool         // the scheduler stopped: waiters are dropped
}

// slotWaiter is a fire waiting for a slot: start runs it in a new
// goroutine with the slot, drop ends it without one.
type slotWaiter struct {
	start func(release func())
	drop  func()
}

func newRunSlots(n int) *runSlots { return &runSlots{ch: make(chan struct{}, n)} }

func (r *runSlots) size() int { return cap(r.ch) }

// release gives a slot back and starts a queued fire with it, if any.
func (r *runSlots) release() {
	<-r.ch
	r.pump()
}

// releaser returns the release of a slot just taken: safe to call more
// than once, releasing once.
func (r *runSlots) releaser() func() { return sync.OnceFunc(r.release) }

// queue starts w with a slot now if one is free, else once one is.
func (r *runSlots) queue(w slotWaiter) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		w.drop()
		return
	}
	r.waiting = append(r.waiting, w)
	r.mu.Unlock()
	r.pump()
}

// pump hands free slots to queued fires, oldest first. Called after every
// release and every queue, it never leaves a fire queued behind a free
// slot.
func (r *runSlots) pump() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.waiting) > 0 {
		select {
		case r.ch <- struct{}{}:
		default:
			return
		}
		w := r.waiting[0]
		r.waiting[0] = slotWaiter{}
		r.waiting = r.waiting[1:]
		go w.start(r.releaser())
	}
	r.waiting = nil // let the backing array go once drained
}

// close drops the queued fires and every fire queued later.
func (r *runSlots) close() {
	r.mu.Lock()
	waiting := r.waiting
	r.waiting, r.closed = nil, true
	r.mu.Unlock()
	for _, w := range waiting {
		w.drop()
	}
}
