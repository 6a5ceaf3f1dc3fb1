// Package auth authenticates and authorises the users of every northbound
// API (REST, NETCONF, gNMI): users with argon2id or bcrypt password
// hashes, bearer tokens and SSH public keys from the running
// configuration (/system/users), the roles admin, operator and read-only,
// a limit on failed logins, and the TLS material the servers share.
package auth

import "fmt"

// Role is what a user may do.
type Role string

// The roles, from most to least powerful.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleReadOnly Role = "read-only"
)

// Permission is a kind of request.
type Permission int

// The permissions a request can need.
const (
	// Read is any read of configuration, state or events.
	Read Permission = iota
	// Operate is running an operation that changes no configuration:
	// failover, force-active, sync-settings, ...
	Operate
	// Configure is any change to a datastore, and operations that change
	// membership or licences.
	Configure
)

// String names the permission for error messages.
func (p Permission) String() string {
	switch p {
	case Read:
		return "read"
	case Operate:
		return "operate"
	case Configure:
		return "configure"
	}
	return fmt.Sprintf("permission(%d)", int(p))
}

// Allows reports whether role r grants p.
func (r Role) Allows(p Permission) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleOperator:
		return p <= Operate
	case RoleReadOnly:
		return p == Read
	}
	return false
}

// Principal is an authenticated caller.
type Principal struct {
	// User is the login name, recorded as the author of what it commits.
	User string
	// Role is what the user may do.
	Role Role
}

// Check returns an *Error of kind Forbidden when p's role does not grant
// perm for what, such as "commit" or "PUT /restconf/data/ha".
func (p Principal) Check(perm Permission, what string) error {
	if p.Role.Allows(perm) {
		return nil
	}
	return &ForbiddenError{User: p.User, Role: p.Role, Need: perm, What: what}
}

// ForbiddenError is a refusal because of the user's role.
type ForbiddenError struct {
	User string
	Role Role
	Need Permission
	What string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("%s: user %q has role %s, which does not allow %s; ask an admin (role admin%s)",
		e.What, e.User, e.Role, e.Need, map[bool]string{true: " or operator", false: ""}[e.Need == Operate])
}
