package lookertext

import (
	"errors"
	"fmt"
	"math/bits"
)

// MaxDecimalPrecision is the most digits a Decimal holds: 38 digits fit
// in 127 bits, the range of Parquet's 16-byte DECIMAL, of arrow's
// Decimal128, and of BigQuery's NUMERIC (and of BIGNUMERIC up to 38
// digits).
const MaxDecimalPrecision = 38

// ErrDecimal is matched by every error of ParseDecimal.
var ErrDecimal = errors.New("not a decimal number")

// Decimal is an exact decimal number as its unscaled integer: the value
// is ±(Hi<<64 | Lo) × 10^-scale, the scale being the column's. Neg is
// never set on zero.
type Decimal struct {
	Hi, Lo uint64
	Neg    bool
}

// ParseDecimal reads a decimal literal, optionally signed, with an
// optional fraction and exponent ("12", "-0.50", "1.25e3", "+.5"), as an
// exact number of DECIMAL(precision, scale). It never rounds: a value
// with non-zero digits beyond scale decimal places, or with more than
// precision-scale digits before the point, is an error that says so
// (matching ErrDecimal). Trailing zeros beyond the scale are exact and
// accepted ("1.230" is DECIMAL(18,2)'s 1.23). precision is 1 to
// MaxDecimalPrecision, scale 0 to precision.
func ParseDecimal(b []byte, precision, scale int) (Decimal, error) {
	var d Decimal
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		d.Neg = b[i] == '-'
		i++
	}
	// The mantissa's digits, leading zeros dropped, kept as offsets into
	// b so that nothing is copied; frac counts the digits after the point.
	var digits [2 * MaxDecimalPrecision]byte
	n, frac, seen, point := 0, 0, false, false
	dropped, droppedFrac := false, false // a non-zero digit did not fit in digits (after the point)
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			seen = true
			if point {
				frac++
			}
			if n == 0 && c == '0' {
				continue
			}
			if n == len(digits) {
				if c != '0' || !point {
					dropped = true
					droppedFrac = droppedFrac || point
				}
				if point {
					frac-- // a trailing zero past what we keep
				} else {
					n++ // counted, to report the size below
				}
				continue
			}
			digits[n] = c - '0'
			n++
			continue
		case c == '.' && !point:
			point = true
			continue
		}
		break
	}
	if !seen {
		return Decimal{}, ErrDecimal
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		neg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			neg = b[i] == '-'
			i++
		}
		start := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if exp < 10000 {
				exp = exp*10 + int(b[i]-'0')
			}
		}
		if i == start {
			return Decimal{}, ErrDecimal
		}
		if neg {
			exp = -exp
		}
	}
	if i != len(b) {
		return Decimal{}, ErrDecimal
	}
	if n == 0 { // zero, whatever its scale or exponent
		return Decimal{}, nil
	}
	if droppedFrac {
		return Decimal{}, fmt.Errorf("%w: more than %d decimal places (DECIMAL(%d,%d)); the exporter does not round", ErrDecimal, scale, precision, scale)
	}
	if dropped || n > len(digits) {
		return Decimal{}, &sizeError{fmt.Sprintf("%v: more than %d significant digits (DECIMAL(%d,%d))", ErrDecimal, precision, precision, scale)}
	}
	// value = digits × 10^(exp-frac); at scale s the unscaled value is
	// digits × 10^(shift).
	shift := scale - frac + exp
	if shift < 0 {
		for _, c := range digits[max(n+shift, 0):n] {
			if c != 0 {
				return Decimal{}, fmt.Errorf("%w: more than %d decimal places (DECIMAL(%d,%d)); the exporter does not round", ErrDecimal, scale, precision, scale)
			}
		}
		n = max(n+shift, 0)
		shift = 0
		if n == 0 {
			return Decimal{}, nil
		}
	}
	if n+shift > precision {
		return Decimal{}, &sizeError{fmt.Sprintf("%v: more than %d digits before the point (DECIMAL(%d,%d))", ErrDecimal, precision-scale, precision, scale)}
	}
	for _, c := range digits[:n] {
		d.mulAdd(uint64(c))
	}
	for range shift {
		d.mulAdd(0)
	}
	return d, nil
}

// sizeError is a decimal with too many digits before the point: out of
// the column's range rather than not a number. It matches ErrDecimal.
type sizeError struct{ msg string }

func (e *sizeError) Error() string { return e.msg }

func (e *sizeError) Is(target error) bool { return target == ErrDecimal }

// mulAdd sets d's magnitude to magnitude*10 + c. The caller bounds the
// digits to MaxDecimalPrecision, so it never overflows.
func (d *Decimal) mulAdd(c uint64) {
	hi, lo := bits.Mul64(d.Lo, 10)
	lo, carry := bits.Add64(lo, c, 0)
	d.Hi = d.Hi*10 + hi + carry
	d.Lo = lo
}

// Int64 is the unscaled value as an int64; exact for precision up to 18.
func (d Decimal) Int64() int64 {
	if d.Neg {
		return -int64(d.Lo)
	}
	return int64(d.Lo)
}

// AppendBigEndian appends the unscaled value as a size-byte big-endian
// two's complement integer (Parquet's DECIMAL on FIXED_LEN_BYTE_ARRAY);
// size is 1 to 16 and large enough for the precision.
func (d Decimal) AppendBigEndian(b []byte, size int) []byte {
	hi, lo := d.Hi, d.Lo
	if d.Neg {
		lo, hi = ^lo, ^hi
		var carry uint64
		lo, carry = bits.Add64(lo, 1, 0)
		hi += carry
	}
	for i := size - 1; i >= 0; i-- {
		if i >= 8 {
			b = append(b, byte(hi>>(8*(i-8))))
		} else {
			b = append(b, byte(lo>>(8*i)))
		}
	}
	return b
}

// AppendDecimal appends d at the given scale as plain decimal text with
// exactly scale digits after the point: "-12.50", "0.05", "7".
func AppendDecimal(b []byte, d Decimal, scale int) []byte {
	var buf [MaxDecimalPrecision + 2]byte
	i := len(buf)
	hi, lo := d.Hi, d.Lo
	for hi != 0 || lo != 0 {
		var r uint64
		hi, r = bits.Div64(0, hi, 10)
		lo, r = bits.Div64(r, lo, 10)
		i--
		buf[i] = byte('0' + r)
	}
	for len(buf)-i < scale+1 {
		i--
		buf[i] = '0'
	}
	if d.Neg {
		b = append(b, '-')
	}
	intEnd := len(buf) - scale
	b = append(b, buf[i:intEnd]...)
	if scale > 0 {
		b = append(b, '.')
		b = append(b, buf[intEnd:]...)
	}
	return b
}

// ParseInteger is ParseInt, also taking a number whose value is an exact
// integer in another spelling ("12.0", "1.2e1", "1e3"), as a database may
// render an integer held in a decimal or float column. A fraction that is
// not zero is ErrInt: nothing is rounded. The other spellings cost only
// when ParseInt fails.
func ParseInteger(b []byte) (int64, error) {
	x, err := ParseInt(b)
	if err == nil || errors.Is(err, ErrRange) {
		return x, err
	}
	d, derr := ParseDecimal(b, 19, 0)
	switch {
	case errors.As(derr, new(*sizeError)):
		return 0, ErrRange
	case derr != nil:
		return 0, ErrInt
	case d.Hi != 0 || d.Lo > 1<<63 || d.Lo == 1<<63 && !d.Neg:
		return 0, ErrRange
	}
	return d.Int64(), nil
}
