package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/gen/tandem"
)

func TestRolesAllow(t *testing.T) {
	cases := []struct {
		role Role
		perm Permission
		want bool
	}{
		{RoleAdmin, Read, true}, {RoleAdmin, Operate, true}, {RoleAdmin, Configure, true},
		{RoleOperator, Read, true}, {RoleOperator, Operate, true}, {RoleOperator, Configure, false},
		{RoleReadOnly, Read, true}, {RoleReadOnly, Operate, false}, {RoleReadOnly, Configure, false},
		{Role("nobody"), Read, false},
	}
	for _, c := range cases {
		if got := c.role.Allows(c.perm); got != c.want {
			t.Errorf("%s allows %s = %v, want %v", c.role, c.perm, got, c.want)
		}
	}
	err := Principal{User: "bob", Role: RoleReadOnly}.Check(Configure, "commit")
	var fe *ForbiddenError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `user "bob" has role read-only`) || !strings.Contains(err.Error(), "commit") {
		t.Fatalf("Check = %v, want a ForbiddenError naming user, role and action", err)
	}
}

func TestPasswordHashes(t *testing.T) {
	h, err := HashPassword("s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string", h)
	}
	for pw, want := range map[string]bool{"s3cret-pass": true, "s3cret-pasS": false, "": false} {
		if ok, err := VerifyPassword(h, pw); ok != want || err != nil {
			t.Errorf("argon2id verify %q = %v, %v; want %v", pw, ok, err, want)
		}
	}
	b, _ := bcrypt.GenerateFromPassword([]byte("old-style"), bcrypt.MinCost)
	if ok, err := VerifyPassword(string(b), "old-style"); !ok || err != nil {
		t.Errorf("bcrypt verify = %v, %v", ok, err)
	}
	if ok, _ := VerifyPassword(string(b), "other"); ok {
		t.Error("bcrypt accepted a wrong password")
	}
	for _, bad := range []string{"plain", "$argon2id$v=19$m=x$a$b", "$argon2id$v=18$m=1,t=1,p=1$AA$AA"} {
		if ok, err := VerifyPassword(bad, "x"); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
}

// The hash and token formats auth produces are accepted by the YANG
// patterns of /system/users.
func TestHashesFitTheSchema(t *testing.T) {
	h, _ := HashPassword("pw-for-schema")
	b, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	_, th, _ := NewToken()
	for _, ph := range []string{h, string(b)} {
		d := &tandem.Device{}
		js := `{"name":"ann","password-hash":` + quote(ph) + `,"role":"operator","token-hash":[` + quote(th) + `]}`
		if err := model.Set(d, "/system/users/user[name=ann]/config", []byte(js)); err != nil {
			t.Fatalf("schema refused %s: %v", ph, err)
		}
	}
}

func quote(s string) string { return `"` + s + `"` }

func newAuth(t *testing.T) (*Authenticator, string) {
	t.Helper()
	dir := t.TempDir()
	a, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return a, dir
}

func TestBootstrapAdminUntilUsersExist(t *testing.T) {
	a, dir := newAuth(t)
	raw, err := os.ReadFile(filepath.Join(dir, BootstrapFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, BootstrapFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("initial password file mode %v, want 0600", fi.Mode().Perm())
	}
	pw := strings.TrimSpace(string(raw))
	a.Configure(&tandem.Device{}) // a configuration without /system
	a.Configure(model.Default())
	p, err := a.Password(BootstrapUser, pw, "192.0.2.9")
	if err != nil || p.Role != RoleAdmin {
		t.Fatalf("bootstrap login = %+v, %v", p, err)
	}
	// A second daemon start keeps the same password.
	b, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Password(BootstrapUser, pw, "192.0.2.9"); err != nil {
		t.Fatalf("bootstrap password changed across restarts: %v", err)
	}
	// Once a user is configured, the bootstrap admin is gone.
	a.Configure(deviceWith(t, "ann", "ann-password", "operator", "", ""))
	if _, err := a.Password(BootstrapUser, pw, "192.0.2.9"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("bootstrap login with users configured = %v, want ErrBadCredentials", err)
	}
	p, err = a.Password("ann", "ann-password", "192.0.2.9")
	if err != nil || p != (Principal{User: "ann", Role: RoleOperator}) {
		t.Fatalf("ann = %+v, %v", p, err)
	}
	// The cached verification is tied to the password.
	if _, err := a.Password("ann", "wrong", "192.0.2.9"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password after a cached success = %v", err)
	}
}

func deviceWith(t *testing.T, name, password, role, token, key string) *tandem.Device {
	t.Helper()
	h, err := HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	js := `{"name":"` + name + `","password-hash":"` + h + `","role":"` + role + `"`
	if token != "" {
		js += `,"token-hash":["` + HashToken(token) + `"]`
	}
	if key != "" {
		js += `,"ssh-public-key":["` + key + `"]`
	}
	d := &tandem.Device{}
	if err := model.Set(d, "/system/users/user[name="+name+"]/config", []byte(js+"}")); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTokensAndKeys(t *testing.T) {
	a, _ := newAuth(t)
	tok, hash, err := NewToken()
	if err != nil || HashToken(tok) != hash || !strings.HasPrefix(tok, "tdm_") {
		t.Fatalf("NewToken = %q %q %v", tok, hash, err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " ann@laptop"
	a.Configure(deviceWith(t, "ann", "pw-ann-123", "admin", tok, line))
	if p, err := a.Token(tok, "198.51.100.7"); err != nil || p.User != "ann" || p.Role != RoleAdmin {
		t.Fatalf("Token = %+v, %v", p, err)
	}
	if _, err := a.Token(tok+"x", "198.51.100.7"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong token = %v", err)
	}
	if p, err := a.PublicKey("ann", sshPub, "198.51.100.7"); err != nil || p.User != "ann" {
		t.Fatalf("PublicKey = %+v, %v", p, err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _ := ssh.NewPublicKey(other)
	if _, err := a.PublicKey("ann", otherPub, "198.51.100.7"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("foreign key = %v", err)
	}
	if _, err := a.PublicKey("bob", sshPub, "198.51.100.7"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("key of another user = %v", err)
	}
}

func TestFailedLoginsAreRateLimited(t *testing.T) {
	a, _ := newAuth(t)
	now := time.Unix(1000, 0)
	a.limiter.now = func() time.Time { return now }
	a.Configure(deviceWith(t, "ann", "right-password", "admin", "", ""))
	for i := range 5 {
		if _, err := a.Password("ann", "wrong", "203.0.113.5"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d = %v", i+1, err)
		}
	}
	_, err := a.Password("ann", "right-password", "203.0.113.5")
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute {
		t.Fatalf("sixth attempt = %v, want RateLimitedError", err)
	}
	if _, err := a.Password("ann", "right-password", "203.0.113.6"); err != nil {
		t.Fatalf("another source is not limited: %v", err)
	}
	now = now.Add(61 * time.Second)
	if _, err := a.Password("ann", "right-password", "203.0.113.5"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestSelfSignedTLS(t *testing.T) {
	dir := t.TempDir()
	cfg, err := TLS(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	first := cfg.Certificates[0].Certificate[0]
	again, err := TLS(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Certificates[0].Certificate[0]) != string(first) {
		t.Fatal("the self-signed certificate changed across restarts")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "tls", "key.pem")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode().Perm())
	}
	if _, err := TLS(dir, CertFile(dir), ""); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
	if _, err := TLS(dir, CertFile(dir), filepath.Join(dir, "tls", "key.pem")); err != nil {
		t.Fatalf("explicit files: %v", err)
	}
}

// A user committed a moment ago logs in at once: the authenticator reads
// the followed datastore's users again whenever its running revision
// changed, without waiting for anyone to hand it the new configuration.
func TestFollowSeesACommittedUserAtOnce(t *testing.T) {
	a, _ := newAuth(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "config.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a.Follow(st)
	if _, err := a.Password("ann", "ann-password-1", "192.0.2.9"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("before the commit: %v, want bad credentials", err)
	}
	users := deviceWith(t, "ann", "ann-password-1", "operator", "", "")
	if _, err := st.Update(t.Context(), "t", store.Meta{Author: "t", Origin: "cli"}, func(d *tandem.Device) error {
		d.System = users.System
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Password("ann", "ann-password-1", "192.0.2.9"); err != nil || p.Role != RoleOperator {
		t.Fatalf("right after the commit: %+v, %v; want ann as operator", p, err)
	}
}
