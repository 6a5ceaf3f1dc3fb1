package xmltree

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
)

// Well-known attribute namespaces and the prefixes Writer gives them.
var knownPrefixes = map[string]string{
	"urn:ietf:params:xml:ns:netconf:base:1.0":     "nc",
	"urn:ietf:params:xml:ns:netconf:default:1.0":  "wd",
	"urn:ietf:params:xml:ns:yang:ietf-datastores": "ds",
	"urn:ietf:params:xml:ns:yang:1":               "yang",
}

// Writer renders XML, declaring each element's namespace as the default
// namespace where it changes and prefixes for namespaced attributes.
type Writer struct {
	buf   bytes.Buffer
	stack []frame
}

type frame struct {
	ns, local string
	open      bool // the start tag is not closed yet (no content so far)
}

// Start opens an element in namespace ns. Extra prefix declarations
// (prefix -> namespace) may be given in decls.
func (w *Writer) Start(ns, local string, attrs ...xml.Attr) { w.StartDecl(ns, local, nil, attrs...) }

// StartDecl is Start with extra namespace declarations.
func (w *Writer) StartDecl(ns, local string, decls map[string]string, attrs ...xml.Attr) {
	w.closeTag()
	parentNS := ""
	if len(w.stack) > 0 {
		parentNS = w.stack[len(w.stack)-1].ns
	}
	w.buf.WriteByte('<')
	w.buf.WriteString(local)
	if ns != parentNS || len(w.stack) == 0 && ns != "" {
		w.attr("xmlns", ns)
	}
	prefixes := map[string]string{}
	keys := make([]string, 0, len(decls))
	for p := range decls {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		w.attr("xmlns:"+p, decls[p])
		prefixes[decls[p]] = p
	}
	for _, a := range attrs {
		name := a.Name.Local
		if a.Name.Space != "" {
			p, ok := prefixes[a.Name.Space]
			if !ok {
				p = knownPrefixes[a.Name.Space]
				if p == "" {
					p = fmt.Sprintf("a%d", len(prefixes))
				}
				prefixes[a.Name.Space] = p
				w.attr("xmlns:"+p, a.Name.Space)
			}
			name = p + ":" + name
		}
		w.attr(name, a.Value)
	}
	w.stack = append(w.stack, frame{ns: ns, local: local, open: true})
}

func (w *Writer) attr(name, value string) {
	w.buf.WriteByte(' ')
	w.buf.WriteString(name)
	w.buf.WriteString(`="`)
	w.buf.WriteString(attrEscaper.Replace(value))
	w.buf.WriteByte('"')
}

func (w *Writer) closeTag() {
	if n := len(w.stack); n > 0 && w.stack[n-1].open {
		w.buf.WriteByte('>')
		w.stack[n-1].open = false
	}
}

// Text writes escaped character data.
func (w *Writer) Text(s string) {
	if s == "" {
		return
	}
	w.closeTag()
	w.buf.WriteString(textEscaper.Replace(s))
}

// Escapers for character data and attribute values. Unlike
// xml.EscapeText they keep newlines and tabs as they are (readable YANG
// text in get-schema), escaping only what XML requires; \r is escaped so
// that it survives end-of-line normalisation.
var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\r", "&#xD;", "\n", "&#xA;", "\t", "&#x9;")
)

// Raw writes already-encoded XML.
func (w *Writer) Raw(b []byte) {
	w.closeTag()
	w.buf.Write(b)
}

// End closes the innermost open element.
func (w *Writer) End() {
	n := len(w.stack)
	f := w.stack[n-1]
	w.stack = w.stack[:n-1]
	if f.open {
		w.buf.WriteString("/>")
		return
	}
	w.buf.WriteString("</")
	w.buf.WriteString(f.local)
	w.buf.WriteByte('>')
}

// Leaf writes <local>text</local> in namespace ns.
func (w *Writer) Leaf(ns, local, text string) {
	w.Start(ns, local)
	w.Text(text)
	w.End()
}

// Bytes returns what was written.
func (w *Writer) Bytes() []byte { return w.buf.Bytes() }
