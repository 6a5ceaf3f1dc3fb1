package rest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tandem-ha/tandem/northbound/rest/openapi"
)

// LibraryVersion is the revision of ietf-yang-library the server
// implements (RFC 8525).
const LibraryVersion = "2019-01-04"

// hostMeta answers RFC 6415 root discovery (RFC 8040, 3.1).
func (s *Server) hostMeta(c echo.Context) error {
	const xrd = `<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="restconf" href="/restconf"/>
</XRD>
`
	return c.Blob(http.StatusOK, "application/xrd+xml", []byte(xrd))
}

// root answers GET /restconf (RFC 8040, 3.3).
func (s *Server) root(c echo.Context) error {
	return writeData(c, http.StatusOK, map[string]any{"ietf-restconf:restconf": map[string]any{
		"data": map[string]any{}, "operations": map[string]any{}, "yang-library-version": LibraryVersion,
	}})
}

// libraryVersion answers GET /restconf/yang-library-version.
func (s *Server) libraryVersion(c echo.Context) error {
	return writeData(c, http.StatusOK, map[string]any{"ietf-restconf:yang-library-version": LibraryVersion})
}

// yangLibrary serves the RFC 8525 yang-library from the schema (read
// only): GET /restconf/data/ietf-yang-library:yang-library.
func (s *Server) yangLibrary(c echo.Context, path string) error {
	if path != "ietf-yang-library:yang-library" {
		return writeError(c, newError(http.StatusNotFound, "invalid-value", "", "%s: only ietf-yang-library:yang-library is served", path))
	}
	var mods, imports []any
	for _, m := range s.schema.Modules {
		entry := map[string]any{
			"name": m.Name, "revision": m.Revision, "namespace": m.Namespace,
			"location": []any{"/restconf/yang/" + m.Name + "@" + m.Revision},
		}
		if m.Implemented {
			mods = append(mods, entry)
		} else {
			imports = append(imports, entry)
		}
	}
	lib := map[string]any{
		"module-set": []any{map[string]any{"name": "tandem", "module": mods, "import-only-module": imports}},
		"schema":     []any{map[string]any{"name": "tandem", "module-set": []any{"tandem"}}},
		"datastore": []any{
			map[string]any{"name": string(dsRunning), "schema": "tandem"},
			map[string]any{"name": string(dsCandidate), "schema": "tandem"},
			map[string]any{"name": string(dsOperational), "schema": "tandem"},
		},
		"content-id": s.schema.ContentID,
	}
	c.Response().Header().Set("ETag", `"`+s.schema.ContentID+`"`)
	return writeData(c, http.StatusOK, map[string]any{"ietf-yang-library:yang-library": lib})
}

// yangSource serves a module's YANG text: /restconf/yang/NAME or
// /restconf/yang/NAME@REVISION.
func (s *Server) yangSource(c echo.Context) error {
	arg, err := url.PathUnescape(c.Param("module"))
	if err != nil {
		return writeError(c, newError(http.StatusBadRequest, "invalid-value", "", "module %q: %v", c.Param("module"), err))
	}
	name, rev, _ := strings.Cut(strings.TrimSuffix(arg, ".yang"), "@")
	m, ok := s.schema.Module(name)
	if !ok || (rev != "" && rev != m.Revision) {
		return writeError(c, newError(http.StatusNotFound, "invalid-value", "", "module %q: not in the YANG library (GET /restconf/data/ietf-yang-library:yang-library)", arg))
	}
	return c.Blob(http.StatusOK, mediaYANG, m.Source)
}

// openAPI serves the OpenAPI 3 document generated from the YANG.
func (s *Server) openAPI(c echo.Context) error {
	s.apiOnce.Do(func() {
		s.apiDoc, s.apiErr = json.MarshalIndent(openapi.Generate(s.schema), "", "  ")
	})
	if s.apiErr != nil {
		return s.apiErr
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.apiDoc)
}
