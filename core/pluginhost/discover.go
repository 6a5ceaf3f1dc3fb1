package pluginhost

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Plugin executable name prefixes. See Discover.
const (
	PluginPrefix   = "tandem-plugin-"
	PlatformPrefix = "tandem-platform-"
)

// Discover lists the plugin executables in dir, sorted by name.
//
// The rule: a plugin is a directory entry (not recursive) whose name is
// "tandem-plugin-<id>" or "tandem-platform-<id>", where <id> is one or more
// of a-z, 0-9, '-' and '_' (so "tandem-platform-tz.bak", "...~" or
// "....disabled" are ignored), which resolves (symlinks are followed) to a
// regular file with at least one execute bit set. Anything else is skipped;
// the second result lists the skipped candidates (matching prefix) and why.
// A vendor adds a platform by dropping its binary into the directory; the
// core needs no rebuild.
func Discover(dir string) (paths []string, skipped []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("plugin directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		_, ok := pluginID(name)
		if !ok {
			if strings.HasPrefix(name, PluginPrefix) || strings.HasPrefix(name, PlatformPrefix) {
				skipped = append(skipped, name+": name must be tandem-plugin-<id> or tandem-platform-<id> with <id> of [a-z0-9_-]")
			}
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			skipped = append(skipped, name+": "+err.Error())
			continue
		}
		if !fi.Mode().IsRegular() {
			skipped = append(skipped, name+": not a regular file")
			continue
		}
		if fi.Mode().Perm()&0o111 == 0 {
			skipped = append(skipped, name+": not executable")
			continue
		}
		paths = append(paths, path)
	}
	slices.Sort(paths)
	return paths, skipped, nil
}

// pluginID returns the <id> part of a plugin file name.
func pluginID(name string) (string, bool) {
	var id string
	switch {
	case strings.HasPrefix(name, PluginPrefix):
		id = name[len(PluginPrefix):]
	case strings.HasPrefix(name, PlatformPrefix):
		id = name[len(PlatformPrefix):]
	default:
		return "", false
	}
	if id == "" {
		return "", false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", false
		}
	}
	return id, true
}
