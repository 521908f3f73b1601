package parquetenc

import (
	"math"
	"reflect"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// A column writer takes values as parquet.Value, each with its levels set
// by Value.Level, which the compiler does not inline. Its result is built
// a byte at a time in memory and then copied 16 bytes at a time, and on
// amd64 those loads wait for the byte stores to retire (a failed
// store-to-load forward): per non-null value, two such stalls. Profiled
// on 2M rows to Parquet, they were 15% of an export's CPU: the largest
// single cost after the CSV tokenizer.
//
// putLeveled stores the same value with three 8-byte stores instead, on a
// mirror of parquet.Value's memory layout, in place (returned, a Value
// would again be stored a field at a time by the caller). The mirror is used only if
// checkLayout, at start-up, finds that it matches parquet.Value field for
// field and that values built both ways are equal; otherwise (a
// parquet-go release that changes Value) every value goes through
// Value.Level as before: slower, never wrong. TestLeveledValuesMatchLevel
// fails when the mirror is off, so an upgrade that changes the layout is
// noticed.

// valueMirror is parquet.Value's layout (parquet-go v0.32 value.go): a
// data pointer, 8 bytes of data, then kind (int8, stored as ^Kind),
// definition level, repetition level (a byte each), a padding byte and
// the column index (uint16, stored as ^index), padded to 24 bytes. The
// last four fields are one word here, so that it is stored whole.
type valueMirror struct {
	ptr  *byte
	u64  uint64
	tail uint64
}

// mirrorOK reports whether valueMirror matches parquet.Value (see
// checkLayout).
var mirrorOK = checkLayout()

// putLeveled sets *dst to the non-null value of the given kind and data
// for column col, with repetition level 0 and definition level 1: what
// parquet.Value.Level(0, 1, col) returns for it. ptr and u64 are what
// parquet-go stores: a byte array's data and length, or a number's bits
// (int32 sign-extended, as Int32Value does) with ptr nil.
func putLeveled(dst *parquet.Value, kind parquet.Kind, ptr *byte, u64 uint64, col int) {
	if !mirrorOK {
		*dst = viaAPI(kind, ptr, u64).Level(0, 1, col)
		return
	}
	*(*valueMirror)(unsafe.Pointer(dst)) = valueMirror{ptr: ptr, u64: u64, tail: mirrorTail(kind, col)}
}

// mirrorTail is the last word of a leveled value: kind, definition level
// 1, repetition level 0 and column index, little-endian.
func mirrorTail(kind parquet.Kind, col int) uint64 {
	return uint64(uint8(^int8(kind))) | 1<<8 | uint64(^uint16(col))<<32
}

// viaAPI builds a value without levels through parquet-go's constructors.
func viaAPI(kind parquet.Kind, ptr *byte, u64 uint64) parquet.Value {
	switch kind {
	case parquet.Boolean:
		return parquet.BooleanValue(u64 != 0)
	case parquet.Int32:
		return parquet.Int32Value(int32(u64))
	case parquet.Int64:
		return parquet.Int64Value(int64(u64))
	case parquet.Double:
		return parquet.DoubleValue(math.Float64frombits(u64))
	case parquet.ByteArray:
		return parquet.ByteArrayValue(unsafe.Slice(ptr, int(u64)))
	case parquet.FixedLenByteArray:
		return parquet.FixedLenByteArrayValue(unsafe.Slice(ptr, int(u64)))
	}
	panic("parquetenc: no value of kind " + kind.String())
}

// checkLayout reports whether parquet.Value has exactly the fields,
// offsets and size valueMirror assumes, and whether values built by
// putLeveled's mirror equal those built by parquet-go for every kind the
// encoder writes.
func checkLayout() bool {
	t := reflect.TypeFor[parquet.Value]()
	want := []struct {
		name   string
		kind   reflect.Kind
		offset uintptr
	}{
		{"ptr", reflect.Pointer, 0},
		{"u64", reflect.Uint64, 8},
		{"kind", reflect.Int8, 16},
		{"definitionLevel", reflect.Uint8, 17},
		{"repetitionLevel", reflect.Uint8, 18},
		{"columnIndex", reflect.Uint16, 20},
	}
	if t.Size() != unsafe.Sizeof(valueMirror{}) || t.NumField() != len(want) {
		return false
	}
	for i, w := range want {
		f := t.Field(i)
		if f.Name != w.name || f.Type.Kind() != w.kind || f.Offset != w.offset {
			return false
		}
	}
	data := []byte("looker")
	for _, s := range layoutSamples(data) {
		for _, col := range []int{0, 1, 7, 300} {
			m := valueMirror{ptr: s.ptr, u64: s.u64, tail: mirrorTail(s.kind, col)}
			if *(*parquet.Value)(unsafe.Pointer(&m)) != viaAPI(s.kind, s.ptr, s.u64).Level(0, 1, col) {
				return false
			}
		}
	}
	return true
}

// layoutSample is a value of each kind the encoder writes, as putLeveled
// takes it.
type layoutSample struct {
	kind parquet.Kind
	ptr  *byte
	u64  uint64
}

func layoutSamples(data []byte) []layoutSample {
	negative := int32(-19)
	return []layoutSample{
		{parquet.Boolean, nil, 1},
		{parquet.Boolean, nil, 0},
		{parquet.Int32, nil, uint64(negative)},
		{parquet.Int32, nil, 20_000},
		{parquet.Int64, nil, uint64(1<<62 + 5)},
		{parquet.Int64, nil, math.MaxUint64},
		{parquet.Double, nil, math.Float64bits(-2.5)},
		{parquet.ByteArray, unsafe.SliceData(data), uint64(len(data))},
		{parquet.ByteArray, nil, 0},
		{parquet.FixedLenByteArray, unsafe.SliceData(data), 4},
	}
}
