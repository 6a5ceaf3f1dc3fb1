package telemetry

import (
	"fmt"
	"math"
	"reflect"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
)

// toTyped converts a Go value to the gNMI TypedValue for schema leaf e.
// Accepted: string, bool, signed and unsigned integers, float32/64,
// time.Time (as yang:date-and-time), generated enum values, slices of
// these for leaf-lists, and a *gpb.TypedValue as is.
func toTyped(e *yang.Entry, v any) (*gpb.TypedValue, error) {
	if tv, ok := v.(*gpb.TypedValue); ok {
		if tv == nil {
			return nil, fmt.Errorf("nil value")
		}
		return tv, nil
	}
	kind := yang.Ynone
	if t, err := util.ResolveIfLeafRef(e); err == nil && t != nil && t.Type != nil {
		kind = t.Type.Kind
	}
	rv := reflect.ValueOf(v)
	if v != nil && rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8 {
		if !e.IsLeafList() {
			return nil, fmt.Errorf("%T given for a single-valued leaf", v)
		}
		list := make([]*gpb.TypedValue, 0, rv.Len())
		for i := range rv.Len() {
			tv, err := scalar(kind, rv.Index(i).Interface())
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			list = append(list, tv)
		}
		return &gpb.TypedValue{Value: &gpb.TypedValue_LeaflistVal{LeaflistVal: &gpb.ScalarArray{Element: list}}}, nil
	}
	if e.IsLeafList() {
		return nil, fmt.Errorf("leaf-list needs a slice such as []string, got %T", v)
	}
	return scalar(kind, v)
}

// scalar converts one Go value, using the YANG type kind to pick between
// the signed, unsigned and floating point encodings.
func scalar(kind yang.TypeKind, v any) (*gpb.TypedValue, error) {
	str := func(s string) *gpb.TypedValue { return &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: s}} }
	if en, ok := v.(ygot.GoEnum); ok {
		name, err := ygot.EnumName(en)
		if err != nil {
			return nil, err
		}
		return str(name), nil
	}
	switch x := v.(type) {
	case string:
		return str(x), nil
	case bool:
		return &gpb.TypedValue{Value: &gpb.TypedValue_BoolVal{BoolVal: x}}, nil
	case time.Time:
		return str(x.UTC().Format(time.RFC3339Nano)), nil
	case float32:
		return &gpb.TypedValue{Value: &gpb.TypedValue_DoubleVal{DoubleVal: float64(x)}}, nil
	case float64:
		return &gpb.TypedValue{Value: &gpb.TypedValue_DoubleVal{DoubleVal: x}}, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fromInt(kind, rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fromUint(kind, rv.Uint())
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func fromInt(kind yang.TypeKind, n int64) (*gpb.TypedValue, error) {
	switch {
	case isUnsigned(kind):
		if n < 0 {
			return nil, fmt.Errorf("negative value %d for an unsigned leaf", n)
		}
		return &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: uint64(n)}}, nil
	case kind == yang.Ydecimal64:
		return &gpb.TypedValue{Value: &gpb.TypedValue_DoubleVal{DoubleVal: float64(n)}}, nil
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_IntVal{IntVal: n}}, nil
}

func fromUint(kind yang.TypeKind, n uint64) (*gpb.TypedValue, error) {
	switch {
	case isSigned(kind):
		if n > math.MaxInt64 {
			return nil, fmt.Errorf("value %d overflows a signed leaf", n)
		}
		return &gpb.TypedValue{Value: &gpb.TypedValue_IntVal{IntVal: int64(n)}}, nil
	case kind == yang.Ydecimal64:
		return &gpb.TypedValue{Value: &gpb.TypedValue_DoubleVal{DoubleVal: float64(n)}}, nil
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: n}}, nil
}

func isUnsigned(k yang.TypeKind) bool {
	switch k {
	case yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		return true
	}
	return false
}

func isSigned(k yang.TypeKind) bool {
	switch k {
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64:
		return true
	}
	return false
}

// FromTyped converts a state tree TypedValue back to Go: string, bool, int64, uint64,
// float64, []byte, or for leaf-lists []string when every element is a
// string and []any otherwise.
func FromTyped(tv *gpb.TypedValue) any {
	switch x := tv.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		return x.StringVal
	case *gpb.TypedValue_BoolVal:
		return x.BoolVal
	case *gpb.TypedValue_IntVal:
		return x.IntVal
	case *gpb.TypedValue_UintVal:
		return x.UintVal
	case *gpb.TypedValue_DoubleVal:
		return x.DoubleVal
	case *gpb.TypedValue_BytesVal:
		return x.BytesVal
	case *gpb.TypedValue_LeaflistVal:
		elems := x.LeaflistVal.GetElement()
		strs := make([]string, 0, len(elems))
		anys := make([]any, 0, len(elems))
		allStr := true
		for _, el := range elems {
			v := FromTyped(el)
			anys = append(anys, v)
			if s, ok := v.(string); ok {
				strs = append(strs, s)
			} else {
				allStr = false
			}
		}
		if allStr {
			return strs
		}
		return anys
	}
	return nil
}
