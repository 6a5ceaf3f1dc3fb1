package xmltree

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on parsed documents, against hostile input.
const (
	// MaxDepth is the deepest element nesting Parse accepts.
	MaxDepth = 64
	// MaxElements is the most elements Parse accepts in one document.
	MaxElements = 1 << 20
)

// Element is a parsed XML element with the namespace declarations in
// scope, which NETCONF needs beyond what encoding/xml resolves: prefixes
// in identity values and in XPath filters.
type Element struct {
	// Name is the element's resolved name.
	Name xml.Name
	// Attrs are the attributes other than namespace declarations, with
	// resolved namespaces.
	Attrs []xml.Attr
	// Children are the child elements.
	Children []*Element
	// Text is the element's character data (concatenated).
	Text string
	// Scope maps the prefixes in scope to namespaces; "" is the default
	// namespace.
	Scope map[string]string
}

// Attr returns the value of the attribute with the given namespace and
// local name.
func (e *Element) Attr(space, local string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value, true
		}
	}
	return "", false
}

// Child returns the first child element with the given namespace and
// local name.
func (e *Element) Child(space, local string) *Element {
	for _, c := range e.Children {
		if c.Name.Local == local && c.Name.Space == space {
			return c
		}
	}
	return nil
}

// ErrSyntax is wrapped by every error about malformed XML.
var ErrSyntax = errors.New("malformed XML")

// Parse reads one XML document and returns its root element.
func Parse(data []byte) (*Element, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var (
		root  *Element
		stack []*Element
		text  []*strings.Builder
		count int
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%w: more than one root element", ErrSyntax)
			}
			if count++; count > MaxElements {
				return nil, fmt.Errorf("%w: more than %d elements", ErrSyntax, MaxElements)
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("%w: elements nested deeper than %d", ErrSyntax, MaxDepth)
			}
			el := &Element{Name: t.Name, Scope: map[string]string{}}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				for k, v := range parent.Scope {
					el.Scope[k] = v
				}
				parent.Children = append(parent.Children, el)
			} else {
				root = el
			}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					el.Scope[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					el.Scope[""] = a.Value
				default:
					el.Attrs = append(el.Attrs, a)
				}
			}
			stack = append(stack, el)
			text = append(text, &strings.Builder{})
		case xml.EndElement:
			el := stack[len(stack)-1]
			el.Text = text[len(text)-1].String()
			stack, text = stack[:len(stack)-1], text[:len(text)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: text outside the root element", ErrSyntax)
				}
				continue
			}
			text[len(text)-1].Write(t)
		case xml.Directive:
			return nil, fmt.Errorf("%w: DTDs and other directives are not accepted", ErrSyntax)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no element", ErrSyntax)
	}
	return root, nil
}

// Write renders e (with its children) as XML, declaring the namespaces
// it needs. It is used to echo client-provided content.
func (e *Element) Write(w *Writer) {
	w.Start(e.Name.Space, e.Name.Local, e.Attrs...)
	if len(e.Children) == 0 {
		w.Text(e.Text)
	}
	for _, c := range e.Children {
		c.Write(w)
	}
	w.End()
}
