package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// BootstrapUser is the user that logs in with the initial password while
// no user is configured.
const BootstrapUser = "admin"

// BootstrapFile is the name, in the daemon's data directory, of the file
// holding the initial admin password.
const BootstrapFile = "initial-admin-password"

// ErrBadCredentials is every failed login: unknown user, wrong password,
// unknown token or key. It never says which, so that names cannot be
// probed.
var ErrBadCredentials = errors.New("authentication failed: unknown user or wrong credentials")

// RateLimitedError refuses a login from a source with too many recent
// failures.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("authentication refused: too many failed logins from this address; retry in %s",
		e.RetryAfter.Round(time.Second))
}

// user is one configured user.
type user struct {
	name  string
	role  Role
	hash  string
	keys  [][]byte // ssh wire-format public keys
	token map[string]bool
}

// Authenticator checks credentials against the users of the running
// configuration. It is safe for concurrent use.
type Authenticator struct {
	limiter *Limiter
	secret  []byte // keys the cache of verified passwords

	mu        sync.RWMutex
	users     map[string]*user
	bootstrap string // hash of the initial admin password
	verified  map[string][32]byte

	// running is the configuration Follow follows; revision is the one
	// whose users are in users.
	running  Running
	revision uint64
}

// Running is a source of the running configuration: the datastore.
type Running interface {
	// RunningID is the running revision's id, cheap to ask.
	RunningID() uint64
	// Running returns the running configuration and its revision.
	Running() (*tandem.Device, store.RevisionInfo)
}

// New returns an Authenticator. dataDir holds the initial admin password
// (BootstrapFile), created with mode 0600 when missing.
func New(dataDir string) (*Authenticator, error) {
	a := &Authenticator{limiter: NewLimiter(5, time.Minute), users: map[string]*user{}, verified: map[string][32]byte{}}
	a.secret = make([]byte, 32)
	if _, err := rand.Read(a.secret); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, BootstrapFile)
	pw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 18)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		pw = []byte(base64.RawURLEncoding.EncodeToString(raw))
		if err := os.WriteFile(path, append(pw, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("initial admin password: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("initial admin password: %w", err)
	}
	if a.bootstrap, err = HashPassword(strings.TrimSpace(string(pw))); err != nil {
		return nil, err
	}
	return a, nil
}

// Follow makes every credential check use the users of r's running
// configuration: a user committed a moment ago logs in at once, before
// any notification of the commit has been handled.
func (a *Authenticator) Follow(r Running) {
	a.mu.Lock()
	a.running, a.revision = r, 0
	a.mu.Unlock()
	a.refresh()
}

// refresh takes the users again when the followed running configuration
// changed since they were taken.
func (a *Authenticator) refresh() {
	a.mu.RLock()
	r, have := a.running, a.revision
	a.mu.RUnlock()
	if r == nil || r.RunningID() == have {
		return
	}
	d, info := r.Running()
	a.Configure(d)
	a.mu.Lock()
	if info.ID > a.revision {
		a.revision = info.ID
	}
	a.mu.Unlock()
}

// Configure takes the users from a running configuration.
func (a *Authenticator) Configure(d *tandem.Device) {
	users := map[string]*user{}
	var configured map[string]*tandem.TandemSystem_System_Users_User
	if us := d.GetSystem().GetUsers(); us != nil {
		configured = us.User
	}
	for name, u := range configured {
		c := u.GetConfig()
		nu := &user{name: name, role: roleOf(c.GetRole()), hash: c.GetPasswordHash(), token: map[string]bool{}}
		for _, k := range c.GetSshPublicKey() {
			if pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err == nil {
				nu.keys = append(nu.keys, pk.Marshal())
			}
		}
		for _, h := range c.GetTokenHash() {
			nu.token[h] = true
		}
		users[name] = nu
	}
	a.mu.Lock()
	a.users = users
	a.verified = map[string][32]byte{}
	a.mu.Unlock()
}

func roleOf(r tandem.E_TandemSystem_UserRole) Role {
	switch r {
	case tandem.TandemSystem_UserRole_admin:
		return RoleAdmin
	case tandem.TandemSystem_UserRole_operator:
		return RoleOperator
	}
	return RoleReadOnly
}

// Password authenticates name with password for a request from source
// (an IP address, used for the failed-login limit).
func (a *Authenticator) Password(name, password, source string) (Principal, error) {
	a.refresh()
	if wait := a.limiter.Blocked(source); wait > 0 {
		return Principal{}, &RateLimitedError{RetryAfter: wait}
	}
	a.mu.RLock()
	u, hash, role := a.users[name], "", Role("")
	switch {
	case u != nil:
		hash, role = u.hash, u.role
	case len(a.users) == 0 && name == BootstrapUser:
		hash, role = a.bootstrap, RoleAdmin
	}
	cacheKey := name + "\x00" + hash
	cached, hit := a.verified[cacheKey]
	a.mu.RUnlock()
	if hash == "" {
		a.limiter.Fail(source)
		return Principal{}, ErrBadCredentials
	}
	sum := a.mac(password)
	if hit && subtle.ConstantTimeCompare(cached[:], sum[:]) == 1 {
		return Principal{User: name, Role: role}, nil
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil || !ok {
		a.limiter.Fail(source)
		return Principal{}, ErrBadCredentials
	}
	// Remember the verified password so that clients sending basic
	// credentials on every request pay the slow hash once.
	a.mu.Lock()
	a.verified[cacheKey] = sum
	a.mu.Unlock()
	a.limiter.Succeed(source)
	return Principal{User: name, Role: role}, nil
}

func (a *Authenticator) mac(password string) [32]byte {
	return sha256.Sum256(append(append([]byte{}, a.secret...), password...))
}

// Token authenticates a bearer token.
func (a *Authenticator) Token(token, source string) (Principal, error) {
	a.refresh()
	if wait := a.limiter.Blocked(source); wait > 0 {
		return Principal{}, &RateLimitedError{RetryAfter: wait}
	}
	h := HashToken(token)
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, u := range a.users {
		if u.token[h] {
			a.limiter.Succeed(source)
			return Principal{User: u.name, Role: u.role}, nil
		}
	}
	a.limiter.Fail(source)
	return Principal{}, ErrBadCredentials
}

// PublicKey authenticates name by an SSH public key.
func (a *Authenticator) PublicKey(name string, key ssh.PublicKey, source string) (Principal, error) {
	a.refresh()
	if wait := a.limiter.Blocked(source); wait > 0 {
		return Principal{}, &RateLimitedError{RetryAfter: wait}
	}
	wire := key.Marshal()
	a.mu.RLock()
	u := a.users[name]
	a.mu.RUnlock()
	if u != nil {
		for _, k := range u.keys {
			if bytes.Equal(k, wire) {
				a.limiter.Succeed(source)
				return Principal{User: u.name, Role: u.role}, nil
			}
		}
	}
	// An SSH client offers each of its keys in turn: a key that is not
	// the user's is not a failed login, a wrong password is.
	return Principal{}, ErrBadCredentials
}
