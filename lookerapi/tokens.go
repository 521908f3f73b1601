package lookerapi

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// shortTokenTTL is the lifetime assumed for a token whose expires_in is 0
// or less: short enough that a token Looker really meant to be short is
// renewed in time (and a 401 still logs in again), long enough that the
// Client does not log in for every request.
const shortTokenTTL = 60 * time.Second

// logoutTimeout bounds the logout of a token that a renewal replaced.
const logoutTimeout = 15 * time.Second

// logoutReplaced revokes tok, a live token a renewal just replaced, so
// that renewals leave no session open in Looker. Calls that still hold
// tok get a 401 and log in again once (see do). A failure is only logged:
// the token expires by itself.
func (c *Client) logoutReplaced(ctx context.Context, tok string) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logoutTimeout)
	defer cancel()
	if err := c.logout(lctx, &request{op: "logout", method: http.MethodDelete, path: "/logout"}, tok); err != nil {
		c.log.Info("could not log out the replaced looker token; it expires by itself", zap.Error(err))
	}
}
