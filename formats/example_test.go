package formats_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/jsonl"
	"github.com/lookerexport/exporter/formats/lookerdec"
)

// Copy streams a pivoted json_bi result into JSON lines: the pivoted
// measure becomes one column per pivot.
func ExampleCopy() {
	body := `{"metadata":{"fields":{
	  "dimensions":[{"name":"orders.created_date","type":"date_date"}],
	  "measures":[{"name":"orders.count","type":"count"}],
	  "pivots":[{"name":"orders.status"}]},
	 "pivots":[{"key":"complete","data":{"orders.status":"complete"}},{"key":"pending","data":{"orders.status":"pending"}}]},
	 "rows":[{"orders.created_date":"2026-03-01","orders.count":{"complete":3,"pending":null}}]}`
	dec, err := lookerdec.NewJSONBI(strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	enc := jsonl.New(os.Stdout, dec.Schema(), jsonl.Options{})
	rows, err := formats.Copy(context.Background(), enc, dec, formats.CopyOptions{})
	if err == nil {
		err = enc.Close()
	}
	fmt.Println(rows, err)
	// Output:
	// {"orders_created_date":"2026-03-01","orders_count__complete":3,"orders_count__pending":null}
	// 1 <nil>
}

// Diff compares the schema of a run with the last successful one.
func ExampleDiff() {
	prev := formats.Schema{Fields: []formats.Field{{Name: "orders.id", Type: formats.Int64}, {Name: "orders.note", Type: formats.String}}}
	cur := formats.Schema{Fields: []formats.Field{{Name: "orders.id", Type: formats.String}, {Name: "orders.total", Type: formats.Double}}}
	for _, c := range formats.Diff(prev, cur) {
		fmt.Println(c)
	}
	// Output:
	// column "orders.id" changed type from INT64 to STRING
	// column "orders.note" removed (was STRING)
	// column "orders.total" added (DOUBLE)
}

// NewUTF8Reader sits in front of a result body: the decoder (or a byte-true
// copy) sees valid UTF-8, and the run reports how much was replaced.
func ExampleNewUTF8Reader() {
	body := "Users Name,Users City\ncaf\xe9,M\xfcnchen\n"
	u := formats.NewUTF8Reader(strings.NewReader(body))
	dec, err := lookerdec.NewCSV(u)
	if err != nil {
		fmt.Println(err)
		return
	}
	enc := jsonl.New(os.Stdout, dec.Schema(), jsonl.Options{})
	if _, err := formats.Copy(context.Background(), enc, dec, formats.CopyOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	if err := enc.Close(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("replaced:", u.Replaced())
	// Output:
	// {"Users_Name":"caf�","Users_City":"M�nchen"}
	// replaced: 2
}
