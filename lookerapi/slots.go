package lookerapi

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"
)

// QuerySlots bounds the queries a Looker user runs at once. Looker itself
// runs 15 queries per user and queues the rest, dropping them after 600 s
// in its queue; the exporter stays below that by taking a slot before each
// run (sync run or query task, from its first request to the result
// body's Close).
//
// The default (WithQuerySlots not used) counts the runs of one process.
// Replicas sharing a Looker user share its budget only through an
// implementation backed by shared state (package jobs has one on the state
// store).
type QuerySlots interface {
	// Acquire blocks until one of max slots of user is free, or ctx ends
	// (then it returns ctx's error, or a wrapped one). release gives the
	// slot back; calling it more than once is safe. user is the Client's
	// user key: base URL + " " + client id, plus " sudo " + the run_as
	// user id for runs as another user.
	//
	// An implementation that has to wait calls NotifySlotWait(ctx, true)
	// before it blocks and NotifySlotWait(ctx, false) once it holds a slot,
	// so the run can say that it waits (RunOptions.OnSlotWait and the
	// run's log).
	Acquire(ctx context.Context, user string, max int) (release func(), err error)
}

// WithQuerySlots makes the Client take its run slots from s, e.g. slots
// shared by every replica through the state store.
func WithQuerySlots(s QuerySlots) Option {
	return func(c *Client) { c.slots = s }
}

type slotWaitKey struct{}

// NotifySlotWait tells the run that ctx belongs to that it is waiting for
// a query slot (true) or no longer waits (false). QuerySlots
// implementations call it from Acquire; repeated calls with the same value
// are ignored. Outside Acquire, or with a ctx not from the Client, it does
// nothing.
func NotifySlotWait(ctx context.Context, waiting bool) {
	if n, ok := ctx.Value(slotWaitKey{}).(*slotWaitNotifier); ok {
		n.set(waiting)
	}
}

// slotWaitNotifier reports a run's slot wait to its log and OnSlotWait,
// once per change.
type slotWaitNotifier struct {
	mu      sync.Mutex
	waiting bool
	log     *zap.Logger
	onWait  func(bool)
}

func (n *slotWaitNotifier) set(waiting bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.waiting == waiting {
		return
	}
	n.waiting = waiting
	if waiting {
		n.log.Info("waiting for a free query slot")
	} else {
		n.log.Info("query slot free, the run goes on")
	}
	if n.onWait != nil {
		n.onWait(waiting)
	}
}

// slotUser is the QuerySlots user key of a run as user as ("" the API user).
func (c *Client) slotUser(as string) string {
	key := c.base + " " + c.id
	if as != "" {
		key += " sudo " + as
	}
	return key
}

// runLog is the logger of a run.
func (c *Client) runLog(opts RunOptions) *zap.Logger {
	if opts.Log != nil {
		return opts.Log
	}
	return c.log
}

// acquire takes a run slot of the run's Looker user, waiting until one
// frees or ctx ends. The returned release gives it back; calling it more
// than once is safe.
func (c *Client) acquire(ctx context.Context, source string, opts RunOptions) (func(), error) {
	who := "the API user"
	if opts.RunAs != "" {
		who = "user " + opts.RunAs
	}
	n := &slotWaitNotifier{
		log: c.runLog(opts).With(zap.String("source", source), zap.String("looker_user", who),
			zap.Int("max_concurrent_queries", c.maxQueries)),
		onWait: opts.OnSlotWait,
	}
	release, err := c.slots.Acquire(context.WithValue(ctx, slotWaitKey{}, n), c.slotUser(opts.RunAs), c.maxQueries)
	n.set(false)
	if err != nil {
		e := &Error{Source: source, Op: "run", Err: err, Retryable: true,
			Message: fmt.Sprintf("waiting for one of %d query slots of %s (looker.max_concurrent_queries)", c.maxQueries, who)}
		if ctx.Err() != nil {
			e.Err, e.Retryable = ctx.Err(), errors.Is(ctx.Err(), context.DeadlineExceeded)
		}
		return nil, e
	}
	var once sync.Once
	return func() { once.Do(release) }, nil
}

// localSlots is the default QuerySlots: per user, within this process.
type localSlots struct {
	mu    sync.Mutex
	users map[string]chan struct{} // one value per slot in use
}

func newLocalSlots() *localSlots { return &localSlots{users: map[string]chan struct{}{}} }

// NewLocalQuerySlots returns the default QuerySlots: slots per user key,
// counted within this process (every Client using it shares them). An
// implementation backed by shared state can fall back to it, and tests
// can wrap it.
func NewLocalQuerySlots() QuerySlots { return newLocalSlots() }

// Acquire implements QuerySlots. A user's slot count is fixed by the first
// call for that user.
func (s *localSlots) Acquire(ctx context.Context, user string, limit int) (func(), error) {
	s.mu.Lock()
	ch, ok := s.users[user]
	if !ok {
		ch = make(chan struct{}, max(limit, 1))
		s.users[user] = ch
	}
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
		NotifySlotWait(ctx, true)
		select {
		case ch <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		NotifySlotWait(ctx, false)
	}
	var once sync.Once
	return func() { once.Do(func() { <-ch }) }, nil
}
