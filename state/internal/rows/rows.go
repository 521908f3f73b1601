// Package rows collects query results into slices for the state stores:
// database/sql's *sql.Rows and pgx's pgx.Rows both fit Rows.
package rows

// Rows is the part of a result set Collect needs.
type Rows interface {
	Next() bool
	Err() error
}

// Collect appends scan(rs) for each row to out and returns it, then
// reports rs.Err. It does not close rs. On error it returns nil and the
// first error, unwrapped: callers add what they were doing.
func Collect[R Rows, T any](rs R, out []T, scan func(R) (T, error)) ([]T, error) {
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
