package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/state"
)

// SlotStore is the part of state.Store that StoreQuerySlots uses.
type SlotStore interface {
	AcquireSlot(ctx context.Context, key, holder string, max int, now time.Time, lease time.Duration) (bool, error)
	RenewSlot(ctx context.Context, key, holder string, now time.Time, lease time.Duration) error
	ReleaseSlot(ctx context.Context, key, holder string) error
}

// StoreQuerySlots bounds the Looker queries in flight per Looker user
// across every replica that shares the state store: Looker runs at most
// 15 queries per user at once and drops queued ones after 10 minutes
// (NOTES §13.6), so replicas sharing one API user must share one budget.
// It implements lookerapi.QuerySlots.
//
// A slot is a row in the store held under a lease that a timer renews
// every Lease/3 until the run releases it; the slot of a replica that
// died frees itself when its lease ends. Each slot a run of this process
// gives back wakes the first of its runs waiting for one, which tries the
// store again at once; every waiter also polls the store every Poll, for
// the slots other replicas give back. When the store cannot be reached
// the wait goes on (logged) until the run's context ends: a store outage
// delays queries, it never lets them exceed the budget.
type StoreQuerySlots struct {
	Store   SlotStore
	Replica string        // names the holder in the store, e.g. the host name
	Lease   time.Duration // 0 means 1m
	Poll    time.Duration // 0 means 1s
	Clock   Clock         // nil means RealClock
	Log     *zap.Logger   // nil means no logging

	mu    sync.Mutex
	freed map[string]chan struct{} // per key (freedSlots)
}

const slotKeyPrefix = "looker-queries "

func (s *StoreQuerySlots) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return time.Minute
}

func (s *StoreQuerySlots) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return time.Second
}

func (s *StoreQuerySlots) clock() Clock { return orReal(s.Clock) }

// freedSlots is key's channel of the slots this process gave back, a
// token each: a waiter takes one and tries the store again at once,
// instead of at its next poll. A token nobody waits for stays, up to max,
// and costs the next run one try more. A new run still asks the store
// before it waits: a slot another replica gave back is free for it.
func (s *StoreQuerySlots) freedSlots(key string, max int) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed == nil {
		s.freed = map[string]chan struct{}{}
	}
	ch, ok := s.freed[key]
	if !ok {
		ch = make(chan struct{}, max)
		s.freed[key] = ch
	}
	return ch
}

func (s *StoreQuerySlots) log() *zap.Logger {
	if s.Log == nil {
		return zap.NewNop()
	}
	return s.Log
}

// Acquire waits until one of user's max slots is free, takes it, and
// returns the function that gives it back (safe to call more than once).
func (s *StoreQuerySlots) Acquire(ctx context.Context, user string, max int) (func(), error) {
	key := slotKeyPrefix + user
	holder := s.Replica + " " + randomHex(8)
	clock := s.clock()
	freed := s.freedSlots(key, max)
	for failures, waiting := 0, false; ; {
		ok, err := s.Store.AcquireSlot(ctx, key, holder, max, clock.Now(), s.lease())
		if err == nil && ok {
			if waiting {
				lookerapi.NotifySlotWait(ctx, false)
			}
			return s.hold(ctx, key, holder, freed), nil
		}
		if !waiting {
			waiting = true
			lookerapi.NotifySlotWait(ctx, true) // the run's log and the status page say so
		}
		wait := s.poll()
		if err != nil {
			failures++
			wait = min(s.poll()<<min(failures, 5), 30*time.Second)
			s.log().Warn("state store unreachable while taking a looker query slot; waiting", zap.Error(err), zap.Duration("retry_in", wait))
		}
		tick, stop := clock.After(wait)
		select {
		case <-tick:
		case <-freed:
			stop()
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("waiting for one of %d looker query slots of this API user (looker.max_concurrent_queries, shared by every replica): %w", max, context.Cause(ctx))
		}
	}
}

// hold renews the slot until the returned release is called, which gives
// it back and hands a token to freed.
func (s *StoreQuerySlots) hold(ctx context.Context, key, holder string, freed chan<- struct{}) func() {
	clock := s.clock()
	stop := every(ctx, clock, s.lease()/3, func(ctx context.Context) bool {
		rctx, cancel := context.WithTimeout(ctx, s.lease()/3)
		err := s.Store.RenewSlot(rctx, key, holder, clock.Now(), s.lease())
		cancel()
		switch {
		case ctx.Err() != nil: // released meanwhile
		case errors.Is(err, state.ErrSlotLost):
			s.log().Warn("lost a looker query slot (its lease ended before it was renewed); another run may take it", zap.String("slot", key))
			return false
		case err != nil:
			s.log().Warn("renew a looker query slot", zap.Error(err))
		}
		return true
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			stop()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.Store.ReleaseSlot(rctx, key, holder); err != nil {
				s.log().Warn("release a looker query slot; it frees itself when its lease ends", zap.Error(err))
				return
			}
			select {
			case freed <- struct{}{}:
			default: // max tokens wait already
			}
		})
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
