package model

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/gen/tandem"
)

func TestSetLeafAndEntry(t *testing.T) {
	d := Default()
	for _, c := range []struct{ path, val string }{
		{"/ha/config/mode", `"active-standby"`},
		{"/ha/config/heartbeat-interval", `500`},
		{"/ha/config/stateful-sync", `true`},
		{"/interfaces/interface[name=X1]/config/ipv4-address", `["192.0.2.1/24"]`},
		{"/tandem-ha:ha/config/pre-shared-key", `"s3cretkey!"`},
	} {
		if err := Set(d, c.path, []byte(c.val)); err != nil {
			t.Fatalf("Set(%s): %v", c.path, err)
		}
	}
	b, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", b)
	r, _ := EncodeRedacted(d)
	t.Logf("%s", r)
}

func TestDiffRedactsSecrets(t *testing.T) {
	a := Default()
	b := Default()
	if err := Set(b, "/ha/config/pre-shared-key", []byte(`"0123456789"`)); err != nil {
		t.Fatal(err)
	}
	if err := Set(b, "/ha/config/mode", []byte(`"active-standby"`)); err != nil {
		t.Fatal(err)
	}
	ch, err := Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`+ /ha/config/mode = "active-standby"`, `+ /ha/config/pre-shared-key = "(secret)"`}
	if len(ch) != len(want) {
		t.Fatalf("diff = %v, want %v", ch, want)
	}
	for i := range want {
		if ch[i].String() != want[i] {
			t.Errorf("change %d = %s, want %s", i, ch[i], want[i])
		}
	}
}

// A diff does not repeat list keys as leaves and prints values on one line.
func TestDiffOfListEntry(t *testing.T) {
	b := Default()
	if err := Set(b, "/interfaces/interface[name=X1]/config/ipv4-address", []byte(`["192.0.2.1/24", "192.0.2.2/24"]`)); err != nil {
		t.Fatal(err)
	}
	ch, err := Diff(Default(), b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ch {
		got = append(got, c.String())
	}
	want := []string{
		`+ /interfaces/interface[name=X1]/config/ipv4-address = ["192.0.2.1/24","192.0.2.2/24"]`,
		`+ /interfaces/interface[name=X1]/config/name = "X1"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A list entry whose config mirror disagrees with its key is refused by
// Validate with the entry's path; Normalize fills a missing mirror.
func TestKeyMirror(t *testing.T) {
	d, err := Decode([]byte(`{"tandem-interfaces:interfaces": {"interface": [
		{"name": "X1", "config": {"name": "X2"}},
		{"name": "X3"}
	]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.GetInterfaces().GetInterface("X3").GetConfig().GetName(); got != "X3" {
		t.Errorf("mirror of X3 = %q, want X3", got)
	}
	errs := Validate(d)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "/interfaces/interface[name=X1]") || !strings.Contains(errs[0].Error(), "X2") {
		t.Fatalf("Validate = %v, want one error naming /interfaces/interface[name=X1] and X2", errs)
	}
}

// Leaf errors name the leaf by its keyed path, one per bad leaf, and say
// what is allowed in words.
func TestValidateNamesEveryBadLeaf(t *testing.T) {
	d := Default()
	for path, val := range map[string]string{
		"/ha/config/heartbeat-interval":                      `70000`,
		"/interfaces/interface[name=X2]/config/ipv4-address": `["192.0.2.1/24", "300.1.1.1/24"]`,
		"/interfaces/interface[name=X3]/config/ipv4-address": `["300.1.1.1/24"]`,
	} {
		if err := Set(d, path, []byte(val)); err != nil {
			t.Fatal(path, err)
		}
	}
	want := map[string]string{
		"/ha/config/heartbeat-interval":                      "70000 is out of range: allowed 10..60000",
		"/interfaces/interface[name=X2]/config/ipv4-address": `"300.1.1.1/24" is not an IPv4 address with prefix length`,
		"/interfaces/interface[name=X3]/config/ipv4-address": `"300.1.1.1/24" is not an IPv4 address with prefix length`,
	}
	errs := Validate(d)
	if len(errs) != len(want) {
		t.Fatalf("Validate = %v, want %d errors", errs, len(want))
	}
	for _, err := range errs {
		pe, ok := err.(*PathError)
		if !ok || !strings.Contains(pe.Msg, want[pe.Path]) || want[pe.Path] == "" {
			t.Errorf("unexpected error %v", err)
		}
	}
}

// Reads never return a secret, at the top level or inside list entries
// (the users' password and token hashes), and redaction leaves the rest.
func TestEncodeRedactedRemovesEverySecret(t *testing.T) {
	d := Default()
	const hash = "$2b$10$abcdefghijklmnopqrstuuVbJk7R1tSVuM0SGWJ2YBbd8gJ2cRP7K"
	for _, c := range []struct{ path, val string }{
		{"/ha/config/pre-shared-key", `"s3cretkey!"`},
		{"/system/users/user[name=ann]/config", `{"name":"ann","password-hash":"` + hash + `","role":"admin","token-hash":["` + strings.Repeat("ab", 32) + `"]}`},
		{"/system/users/user[name=bob]/config", `{"name":"bob","password-hash":"` + hash + `"}`},
	} {
		if err := Set(d, c.path, []byte(c.val)); err != nil {
			t.Fatalf("Set(%s): %v", c.path, err)
		}
	}
	full, err := Encode(d)
	if err != nil || !strings.Contains(string(full), hash) {
		t.Fatalf("Encode lost the hash: %v", err)
	}
	for name, enc := range map[string]func(*tandem.Device) ([]byte, error){"EncodeRedacted": EncodeRedacted, "EncodeAll": EncodeAll} {
		b, err := enc(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"s3cretkey!", hash, strings.Repeat("ab", 32), "password-hash", "token-hash"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s returns %q:\n%s", name, secret, b)
			}
		}
		if !strings.Contains(string(b), `"role": "admin"`) || !strings.Contains(string(b), `"name": "bob"`) {
			t.Errorf("%s dropped more than the secrets:\n%s", name, b)
		}
	}
	if again, _ := Encode(d); !bytes.Equal(again, full) {
		t.Error("redaction changed the configuration it read")
	}
}

// Canonical's device is exactly what decoding its encoding gives, so the
// datastore can keep it without a decode.
func TestCanonicalEqualsDecodedEncoding(t *testing.T) {
	d := Default()
	for _, c := range []struct{ path, val string }{
		{"/ha/config/mode", `"active-standby"`},
		{"/ha/config/pre-shared-key", `"s3cretkey!"`},
		{"/ha/devices/device[serial-number=UNIT-A]/config/designation", `"primary"`},
		{"/interfaces/interface[name=X1]/config/ipv4-address", `["192.0.2.1/24","192.0.2.9/24"]`},
		{"/interfaces/interface[name=X3]/config/enabled", `false`},
		{"/statesync/config/category", `["connections","ipsec"]`},
		{"/system/users/user[name=ann]/config/role", `"operator"`},
	} {
		if err := Set(d, c.path, []byte(c.val)); err != nil {
			t.Fatalf("Set(%s): %v", c.path, err)
		}
	}
	d.GetOrCreateSystem().GetOrCreateState().SoftwareVersion = ygotString("state is dropped")
	dev, enc, err := Canonical(d)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dev, dec) {
		t.Fatalf("Canonical differs from Decode(Encode):\n%+v\n%+v", dev, dec)
	}
	if again, _ := Encode(dev); !bytes.Equal(again, enc) {
		t.Fatal("Canonical's encoding is not Encode's")
	}
}

func ygotString(s string) *string { return &s }
