package jobs

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// PruneStore is the part of state.Store a Pruner uses.
type PruneStore interface {
	// Prune deletes finished attempts that finished before before (see
	// state.Store.Prune) and says how many.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// Pruner keeps the run history to its retention: it deletes the runs that
// finished more than Retention ago when Run starts, then every Every. A
// prune that fails is logged and tried again at the next turn; the store
// keeps each job's latest success whatever its age (state.Store.Prune).
type Pruner struct {
	Store     PruneStore
	Retention time.Duration // 0 or less: keep everything; Run returns at once
	Every     time.Duration // 0 means an hour
	Clock     Clock         // nil means RealClock
	Log       *zap.Logger   // nil means no logging
}

// Run prunes until ctx ends. It is meant to run on its own goroutine, one
// per store.
func (p *Pruner) Run(ctx context.Context) {
	if p.Retention <= 0 {
		return
	}
	clock, log, every := orReal(p.Clock), p.Log, p.Every
	if log == nil {
		log = zap.NewNop()
	}
	if every <= 0 {
		every = time.Hour
	}
	for {
		n, err := p.Store.Prune(ctx, clock.Now().Add(-p.Retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("prune run history failed; retrying at the next turn", zap.Duration("every", every), zap.Error(err))
		case n > 0:
			log.Info("pruned run history", zap.Int("runs", n), zap.Duration("retention", p.Retention))
		}
		tick, stop := clock.After(every)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-tick:
		}
	}
}
