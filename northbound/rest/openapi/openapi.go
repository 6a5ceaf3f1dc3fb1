// Package openapi generates the OpenAPI 3 description of tandem's REST API
// from the YANG modules (northbound/rest/schema), so the document can
// never drift from the model: a path per data node under /restconf/data
// (GET for every node, PUT, POST, PATCH and DELETE for configuration), a
// path per rpc under /restconf/operations with its input and output, and
// the fixed RESTCONF and tandem resources.
package openapi

import (
	"sort"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"github.com/tandem-ha/tandem/northbound/rest/schema"
)

// Fixed resources besides the data and operations paths: method -> path
// (OpenAPI templates) -> summary. The server's route test checks that
// these and the generated paths are exactly what it serves.
var fixed = []struct{ method, path, summary, media string }{
	{"get", "/.well-known/host-meta", "RESTCONF root discovery (RFC 6415)", "application/xrd+xml"},
	{"get", "/restconf", "the RESTCONF root resource", mediaData},
	{"get", "/restconf/yang-library-version", "the ietf-yang-library revision", mediaData},
	{"get", "/restconf/yang/{module}", "a module's YANG source (NAME or NAME@REVISION)", "application/yang"},
	{"get", "/restconf/openapi.json", "this document", "application/json"},
	{"get", "/restconf/operations", "the rpcs", mediaData},
	{"get", "/restconf/streams", "the notification streams", mediaData},
	{"get", "/restconf/streams/events", "server-sent events: the HA event log", "text/event-stream"},
	{"get", "/restconf/streams/state", "server-sent events: state tree changes", "text/event-stream"},
	{"get", "/restconf/data/ietf-yang-library:yang-library", "the YANG library (RFC 8525)", mediaData},
	{"get", "/tandem/v1/status", "unit summary (tandemctl status)", "application/json"},
	{"get", "/tandem/v1/ha", "HA pair status (tandemctl ha status)", "application/json"},
	{"get", "/tandem/v1/history", "revision history, newest first", "application/json"},
	{"get", "/tandem/v1/revisions/{id}", "one revision's configuration (running, candidate or a number)", mediaData},
	{"get", "/tandem/v1/diff", "leaves that differ between two configurations", "application/json"},
	{"get", "/tandem/v1/events", "the HA event log as a list", "application/json"},
}

const (
	mediaData  = "application/yang-data+json"
	mediaPatch = "application/yang-patch+json"
)

// Document is an OpenAPI 3 document as generic JSON.
type Document = map[string]any

// Generate builds the document.
func Generate(s *schema.Schema) Document {
	g := &gen{s: s, paths: map[string]map[string]any{}, schemas: map[string]any{}}
	for _, f := range fixed {
		op := map[string]any{"summary": f.summary, "responses": responses("200", f.summary, f.media, map[string]any{})}
		if f.path == "/.well-known/host-meta" {
			op["security"] = []any{}
		}
		if strings.Contains(f.path, "{") {
			op["parameters"] = pathParams(f.path)
		}
		g.add(f.path, f.method, op)
	}
	g.datastoreRoot()
	names := make([]string, 0, len(s.Top))
	for n := range s.Top {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g.node(s.Top[n], s.TopModule[n], "/restconf/data/"+s.TopModule[n]+":"+n, nil, true)
		g.datastoreTop(s.Top[n], s.TopModule[n])
	}
	rpcs := make([]string, 0, len(s.RPCs))
	for n := range s.RPCs {
		rpcs = append(rpcs, n)
	}
	sort.Strings(rpcs)
	for _, n := range rpcs {
		g.rpc(n, s.RPCs[n])
	}
	var mods []string
	for _, m := range s.Modules {
		mods = append(mods, m.Name+"@"+m.Revision)
	}
	paths := map[string]any{}
	for p, ops := range g.paths {
		paths[p] = ops
	}
	return Document{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "tandem REST API",
			"version":     s.ContentID,
			"description": "RESTCONF (RFC 8040) for tandem, generated from the YANG modules " + strings.Join(mods, ", ") + ". Every /restconf/data path also exists under /restconf/ds/{datastore}/ (RFC 8527: ietf-datastores:running, candidate, operational).",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"basic":  map[string]any{"type": "http", "scheme": "basic"},
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
			},
			"schemas": g.schemas,
		},
		"security": []any{map[string]any{"basic": []any{}}, map[string]any{"bearer": []any{}}},
	}
}

type gen struct {
	s       *schema.Schema
	paths   map[string]map[string]any
	schemas map[string]any
}

func (g *gen) add(path, method string, op map[string]any) {
	if g.paths[path] == nil {
		g.paths[path] = map[string]any{}
	}
	g.paths[path][method] = op
}

// pathParams declares the {name} templates of a path as string
// parameters.
func pathParams(path string) []any {
	var out []any
	for _, part := range strings.Split(path, "{")[1:] {
		name, _, _ := strings.Cut(part, "}")
		out = append(out, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	return out
}

func responses(code, desc, media string, sch any) map[string]any {
	r := map[string]any{"description": desc}
	if media != "" {
		r["content"] = map[string]any{media: map[string]any{"schema": sch}}
	}
	return map[string]any{
		code:      r,
		"default": map[string]any{"description": "ietf-restconf:errors", "content": map[string]any{mediaData: map[string]any{"schema": errorsSchema()}}},
	}
}

func errorsSchema() map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{"ietf-restconf:errors": map[string]any{
		"type": "object", "properties": map[string]any{"error": map[string]any{"type": "array", "items": map[string]any{
			"type": "object", "properties": map[string]any{
				"error-type": map[string]any{"type": "string"}, "error-tag": map[string]any{"type": "string"},
				"error-app-tag": map[string]any{"type": "string"}, "error-path": map[string]any{"type": "string"},
				"error-message": map[string]any{"type": "string"},
				"error-info": map[string]any{"type": "object", "properties": map[string]any{
					"rule": map[string]any{"type": "string"}, "fix": map[string]any{"type": "string"}}},
			}}}}}}}
}

func (g *gen) datastoreRoot() {
	whole := map[string]any{"type": "object", "description": "the whole datastore: top-level nodes, module-qualified"}
	for _, p := range []string{"/restconf/data", "/restconf/ds/{datastore}"} {
		params := readParams()
		if strings.Contains(p, "{") {
			params = append(params, map[string]any{"name": "datastore", "in": "path", "required": true,
				"schema": map[string]any{"type": "string", "enum": []any{"ietf-datastores:running", "ietf-datastores:candidate", "ietf-datastores:operational"}}})
		}
		g.add(p, "get", map[string]any{"summary": "read the datastore", "parameters": params, "responses": responses("200", "the data", mediaData, whole)})
		wp := params[len(params)-1:]
		if !strings.Contains(p, "{") {
			wp = nil
		}
		body := map[string]any{"required": true, "content": map[string]any{mediaData: map[string]any{"schema": whole}}}
		g.add(p, "put", map[string]any{"summary": "replace the whole configuration", "parameters": wp, "requestBody": body, "responses": responses("204", "replaced", "", nil)})
		g.add(p, "post", map[string]any{"summary": "create a top-level node", "parameters": wp, "requestBody": body, "responses": responses("201", "created", "", nil)})
		g.add(p, "patch", map[string]any{"summary": "merge into the configuration, or a YANG patch", "parameters": wp, "requestBody": patchBody(whole), "responses": responses("204", "merged", "", nil)})
		g.add(p, "delete", map[string]any{"summary": "delete the whole configuration", "parameters": wp, "responses": responses("204", "deleted", "", nil)})
	}
}

// datastoreTop adds a top-level node under /restconf/ds/{datastore}; the
// nodes below it follow the /restconf/data paths.
func (g *gen) datastoreTop(e *yang.Entry, module string) {
	member := module + ":" + e.Name
	ds := map[string]any{"name": "datastore", "in": "path", "required": true,
		"schema": map[string]any{"type": "string", "enum": []any{"ietf-datastores:running", "ietf-datastores:candidate", "ietf-datastores:operational"}}}
	path := "/restconf/ds/{datastore}/" + member
	sch := wrapped(member, g.schemaRef(e, module))
	desc := "every path below /restconf/data/" + member + " exists here too"
	g.add(path, "get", map[string]any{"summary": "read " + member + " of a datastore", "description": desc,
		"parameters": append([]any{ds}, readParams()...), "responses": responses("200", e.Name, mediaData, sch)})
	body := map[string]any{"required": true, "content": map[string]any{mediaData: map[string]any{"schema": sch}}}
	g.add(path, "put", map[string]any{"summary": "create or replace " + member + " in running or candidate", "parameters": []any{ds}, "requestBody": body, "responses": responses("204", "replaced", "", nil)})
	g.add(path, "patch", map[string]any{"summary": "merge into " + member + " in running or candidate", "parameters": []any{ds}, "requestBody": patchBody(sch), "responses": responses("204", "merged", "", nil)})
	g.add(path, "post", map[string]any{"summary": "create a child of " + member + " in running or candidate", "parameters": []any{ds},
		"requestBody": map[string]any{"required": true, "content": map[string]any{mediaData: map[string]any{"schema": map[string]any{"type": "object"}}}}, "responses": responses("201", "created", "", nil)})
	g.add(path, "delete", map[string]any{"summary": "delete " + member + " from running or candidate", "parameters": []any{ds}, "responses": responses("204", "deleted", "", nil)})
}

func readParams() []any {
	q := func(name, desc string, sch map[string]any) map[string]any {
		return map[string]any{"name": name, "in": "query", "required": false, "description": desc, "schema": sch}
	}
	return []any{
		q("content", "config, nonconfig or all (default)", map[string]any{"type": "string", "enum": []any{"config", "nonconfig", "all"}}),
		q("depth", "unbounded or 1..65535", map[string]any{"type": "string"}),
		q("fields", "RFC 8040 fields expression", map[string]any{"type": "string"}),
		q("with-defaults", "explicit, trim, report-all or report-all-tagged", map[string]any{"type": "string", "enum": []any{"explicit", "trim", "report-all", "report-all-tagged"}}),
	}
}

func patchBody(sch any) map[string]any {
	return map[string]any{"required": true, "content": map[string]any{
		mediaData:  map[string]any{"schema": sch},
		mediaPatch: map[string]any{"schema": map[string]any{"type": "object", "description": "RFC 8072 ietf-yang-patch:yang-patch"}},
	}}
}

// node adds the paths of e (reached at path, with the path parameters
// params so far) and its descendants.
func (g *gen) node(e *yang.Entry, module, path string, params []any, config bool) {
	config = config && schema.IsConfig(e)
	member := module + ":" + e.Name
	desc := strings.Join(strings.Fields(e.Description), " ")
	if e.IsList() {
		// The whole list: GET only; entries are created by POST to the
		// parent.
		g.add(path, "get", map[string]any{"summary": "read every entry of list " + e.Name, "description": desc,
			"parameters": append(append([]any{}, params...), readParams()...),
			"responses":  responses("200", "the entries", mediaData, wrapped(member, map[string]any{"type": "array", "items": g.schemaRef(e, module)}))})
		var tmpl []string
		for _, k := range schema.Keys(e) {
			tmpl = append(tmpl, "{"+k+"}")
			params = append(params, map[string]any{"name": k, "in": "path", "required": true, "description": "key " + k + " of " + e.Name + ", percent-encoded", "schema": map[string]any{"type": "string"}})
		}
		path += "=" + strings.Join(tmpl, ",")
	}
	var sch any
	switch {
	case e.IsList():
		sch = wrapped(member, map[string]any{"type": "array", "items": g.schemaRef(e, module), "minItems": 1, "maxItems": 1})
	case e.IsDir():
		sch = wrapped(member, g.schemaRef(e, module))
	default:
		sch = wrapped(member, leafSchema(e))
	}
	g.add(path, "get", map[string]any{"summary": "read " + e.Name, "description": desc,
		"parameters": append(append([]any{}, params...), readParams()...),
		"responses":  responses("200", e.Name, mediaData, sch)})
	if config {
		body := map[string]any{"required": true, "content": map[string]any{mediaData: map[string]any{"schema": sch}}}
		g.add(path, "put", map[string]any{"summary": "create or replace " + e.Name, "parameters": params, "requestBody": body,
			"responses": map[string]any{"201": map[string]any{"description": "created"}, "204": map[string]any{"description": "replaced"},
				"default": responses("", "", "", nil)["default"]}})
		g.add(path, "patch", map[string]any{"summary": "merge into " + e.Name + " (or a YANG patch)", "parameters": params, "requestBody": patchBody(sch),
			"responses": responses("204", "merged", "", nil)})
		g.add(path, "delete", map[string]any{"summary": "delete " + e.Name, "parameters": params, "responses": responses("204", "deleted", "", nil)})
		if e.IsDir() {
			g.add(path, "post", map[string]any{"summary": "create a child of " + e.Name, "parameters": params,
				"requestBody": map[string]any{"required": true, "content": map[string]any{mediaData: map[string]any{"schema": map[string]any{"type": "object", "description": "one member: the child to create"}}}},
				"responses":   responses("201", "created", "", nil)})
		}
	}
	for _, c := range schema.Children(e) {
		g.node(c, module, path+"/"+c.Name, params, config)
	}
}

func wrapped(member string, sch any) map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{member: sch}}
}

// schemaRef returns a $ref to the component schema of container or list
// entry e, generating it on first use.
func (g *gen) schemaRef(e *yang.Entry, module string) map[string]any {
	name := module + strings.ReplaceAll(schemaPath(e), "/", ".")
	if _, ok := g.schemas[name]; !ok {
		g.schemas[name] = nil // reserve against cycles
		props := map[string]any{}
		for _, c := range schema.Children(e) {
			switch {
			case c.IsDir() && c.IsList():
				props[c.Name] = map[string]any{"type": "array", "items": g.schemaRef(c, module)}
			case c.IsDir():
				props[c.Name] = g.schemaRef(c, module)
			default:
				props[c.Name] = leafSchema(c)
			}
		}
		sch := map[string]any{"type": "object", "properties": props}
		if d := strings.Join(strings.Fields(e.Description), " "); d != "" {
			sch["description"] = d
		}
		if !schema.IsConfig(e) {
			sch["readOnly"] = true
		}
		g.schemas[name] = sch
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// schemaPath is e's path from its module, without keys.
func schemaPath(e *yang.Entry) string {
	var parts []string
	for ; e != nil && e.Parent != nil; e = e.Parent {
		parts = append([]string{e.Name}, parts...)
	}
	return "/" + strings.Join(parts, "/")
}

// leafSchema is the JSON schema of a leaf or leaf-list in RFC 7951.
func leafSchema(e *yang.Entry) map[string]any {
	one := typeSchema(e.Type)
	if d := strings.Join(strings.Fields(e.Description), " "); d != "" {
		one["description"] = d
	}
	if def := e.DefaultValues(); len(def) == 1 && e.IsLeaf() {
		one["default"] = def[0]
	}
	if schema.IsWriteOnly(e) {
		one["writeOnly"] = true
	}
	if !schema.IsConfig(e) {
		one["readOnly"] = true
	}
	if e.IsLeafList() {
		return map[string]any{"type": "array", "items": one}
	}
	return one
}

func typeSchema(t *yang.YangType) map[string]any {
	if t == nil {
		return map[string]any{"type": "string"}
	}
	switch t.Kind {
	case yang.Ybool:
		return map[string]any{"type": "boolean"}
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yuint8, yang.Yuint16, yang.Yuint32:
		s := map[string]any{"type": "integer"}
		if len(t.Range) > 0 {
			s["minimum"], s["maximum"] = number(t.Range[0].Min), number(t.Range[len(t.Range)-1].Max)
		}
		return s
	case yang.Yint64, yang.Yuint64, yang.Ydecimal64:
		return map[string]any{"type": "string", "description": "a 64-bit or decimal number, as a string (RFC 7951)", "pattern": `^-?[0-9]+(\.[0-9]+)?$`}
	case yang.Yenum:
		var names []any
		for _, n := range t.Enum.Names() {
			names = append(names, n)
		}
		return map[string]any{"type": "string", "enum": names}
	case yang.Yempty:
		return map[string]any{"type": "array", "items": map[string]any{"nullable": true}, "minItems": 1, "maxItems": 1}
	case yang.Yunion:
		var alts []any
		for _, m := range t.Type {
			alts = append(alts, typeSchema(m))
		}
		return map[string]any{"anyOf": alts}
	}
	s := map[string]any{"type": "string"}
	if len(t.Pattern) == 1 {
		s["pattern"] = "^(" + t.Pattern[0] + ")$"
	}
	return s
}

// number renders a YANG range bound as a JSON number.
func number(n yang.Number) any {
	if v, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return v
	}
	if v, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
		return v
	}
	return n.String()
}

// rpc adds POST /restconf/operations/tandem-operations:NAME.
func (g *gen) rpc(name string, e *yang.Entry) {
	op := map[string]any{
		"summary":     "rpc " + name,
		"description": strings.Join(strings.Fields(e.Description), " "),
	}
	member := schema.OperationsModule + ":"
	if in := e.RPC.Input; in != nil && len(in.Dir) > 0 {
		op["requestBody"] = map[string]any{"required": false, "content": map[string]any{mediaData: map[string]any{
			"schema": wrapped(member+"input", g.schemaRef(in, schema.OperationsModule+"."+name))}}}
	}
	resp := responses("204", "done, no output", "", nil)
	if out := e.RPC.Output; out != nil && len(out.Dir) > 0 {
		resp = responses("200", "the output", mediaData, wrapped(member+"output", g.schemaRef(out, schema.OperationsModule+"."+name)))
	}
	op["responses"] = resp
	g.add("/restconf/operations/"+schema.OperationsModule+":"+name, "post", op)
}
