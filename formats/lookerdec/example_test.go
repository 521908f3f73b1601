package lookerdec_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lookerexport/exporter/formats/lookerdec"
)

func ExampleNewJSONBI() {
	body := `{"metadata":{"fields":{
	  "dimensions":[{"name":"orders.created_date","label":"Orders Created Date","type":"date_date"}],
	  "measures":[{"name":"orders.count","label":"Orders Count","type":"count"}]}},
	 "rows":[{"orders.created_date":"2026-03-01","orders.count":12},
	         {"orders.created_date":"2026-03-02","orders.count":null}]}`
	r, err := lookerdec.NewJSONBI(strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range r.Schema().Fields {
		fmt.Printf("%s (%s) %v\n", f.Name, f.Label, f.Type)
	}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		var cells []string
		for _, c := range row {
			if c.Null {
				cells = append(cells, "NULL")
			} else {
				cells = append(cells, string(c.Value))
			}
		}
		fmt.Println(strings.Join(cells, " "))
	}
	// Output:
	// orders.created_date (Orders Created Date) DATE
	// orders.count (Orders Count) INT64
	// 2026-03-01 12
	// 2026-03-02 NULL
}

func ExampleNewCSV() {
	r, err := lookerdec.NewCSV(strings.NewReader("Users Name,Users Note\nAnn,\"says \"\"hi\"\"\"\nBo,\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		row, err := r.Next()
		if err != nil {
			break
		}
		fmt.Printf("%s | %q null=%v\n", row[0].Value, row[1].Value, row[1].Null)
	}
	_, err = lookerdec.NewCSV(strings.NewReader("A,B\n1,2\n3\n"))
	fmt.Println(err == nil)
	r, _ = lookerdec.NewCSV(strings.NewReader("A,B\n1,2\n3\n"))
	r.Next()
	_, err = r.Next()
	fmt.Println(err)
	// Output:
	// Ann | "says \"hi\"" null=false
	// Bo | "" null=true
	// true
	// decode looker csv: row 2 (line 3, byte 8): has 1 fields, the header has 2
}
