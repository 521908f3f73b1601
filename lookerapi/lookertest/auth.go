package lookertest

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxUserID is the highest user id POST /login/{user_id} accepts: users
// "1" (the API user) to "100" exist.
const MaxUserID = 100

// sessionFloor is how long a token issued with expires_in <= 0 stays
// valid. Looker does not document such tokens; the sandbox keeps the
// session alive like any other (so a client that logs in again for every
// request leaves many sessions active, issue 10 req. 9) [inf].
const sessionFloor = time.Hour

type tokenInfo struct {
	userID  string
	admin   bool
	expires time.Time
}

// SetTokenTTL sets the lifetime reported as expires_in of tokens issued
// from now on. 0 or a negative duration is reported as is (expires_in 0
// or negative), while the token stays valid for an hour.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = d
}

// ExpireTokens makes every issued token invalid: the next call with any of
// them gets 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Logins is the number of successful logins (POST /login).
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Logouts is the number of successful logouts.
func (s *Server) Logouts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logouts
}

// UserLogins is how many tokens were issued for user id by
// POST /login/{user_id}.
func (s *Server) UserLogins(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLogins[userID]
}

// Tokens lists every access token issued so far, revoked ones included, so
// tests can check that none leaks into logs or errors.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// issueToken returns an AccessToken body (spec schema AccessToken; real
// answers carry token_type "Bearer" and refresh_token null, NOTES §1.1).
func (s *Server) issueToken(userID string, admin bool) map[string]any {
	tok := randomString(40)
	s.mu.Lock()
	ttl := s.ttl
	valid := ttl
	if valid <= 0 {
		valid = sessionFloor
	}
	s.tokens[tok] = tokenInfo{userID: userID, admin: admin, expires: s.now().Add(valid)}
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	return map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int64(ttl / time.Second), "refresh_token": nil}
}

// login is POST /login (spec op login): credentials in the form body or
// the query; grant_type ignored; wrong credentials → 404 (NOTES §1.1).
func (s *Server) login(c *call) {
	if err := c.r.ParseForm(); err != nil {
		c.error(http.StatusBadRequest, "Could not parse the login form.")
		return
	}
	id, secret := c.r.Form.Get("client_id"), c.r.Form.Get("client_secret")
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	if !okID || !okSecret {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	body := s.issueToken("1", true)
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, body)
}

// loginUser is POST /login/{user_id} (spec op login_user, NOTES §1.3):
// an admin's token gets a new token acting as the user.
func (s *Server) loginUser(c *call) {
	if !c.tok.admin {
		c.error(http.StatusForbidden, "Permission Denied")
		return
	}
	uid := c.r.PathValue("user_id")
	if !validUser(uid) {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	body := s.issueToken(uid, false)
	s.mu.Lock()
	s.userLogins[uid]++
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, body)
}

func validUser(uid string) bool {
	n, err := strconv.Atoi(uid)
	return err == nil && n > 0 && n <= MaxUserID && strconv.Itoa(n) == uid
}

// logout is DELETE /logout (spec op logout): 204, revokes the token.
func (s *Server) logout(c *call) {
	s.mu.Lock()
	delete(s.tokens, c.token)
	s.logouts++
	s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
}

// authenticate accepts "token X" (spec) and "Bearer X" (all official
// SDKs); anything else, or an unknown or expired token, gets 401
// "Requires authentication." (undeclared in the spec, NOTES §0).
func (c *call) authenticate() bool {
	h := c.r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "bearer") || tok == "" {
		c.error(http.StatusUnauthorized, "Requires authentication.")
		return false
	}
	c.s.mu.Lock()
	info, ok := c.s.tokens[tok]
	if ok && !c.s.now().Before(info.expires) {
		delete(c.s.tokens, tok)
		ok = false
	}
	c.s.mu.Unlock()
	if !ok {
		c.error(http.StatusUnauthorized, "Requires authentication.")
		return false
	}
	c.tok, c.token = info, tok
	return true
}
