package synth

import (
	"reflect"
	"strconv"
)

func FillAll(v reflect.Value, next *uint64) {
	*next++
	n := *next
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(n % 100)
	case reflect.String:
		v.SetString("s" + strconv.Itoa(int(n)) + "\xff") // not UTF-8: kept as bytes
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			FillAll(s.Index(i), next)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		FillAll(p.Elem(), next)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				FillAll(v.Field(i), next)
			}
		}
	default:
		panic("FillAll: no value for a " + v.Kind().String())
	}
}
