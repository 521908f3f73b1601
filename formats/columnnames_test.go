package formats

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestColumnNames(t *testing.T) {
	t.Parallel()
	schema := Schema{Fields: []Field{
		{Name: "orders.created_date", Label: "Orders Created Date"},
		{Name: "orders.created-date", Label: "Orders Created Date"},
		{Name: "orders_created_date", Label: ""},
		{Name: "users.näme", Label: "Users Näme"},
		{Name: "", Label: ""},
		{Name: "ORDERS.CREATED_DATE", Label: "orders created date"},
		{Name: "orders.created_date_2", Label: "x"},
	}}
	tests := []struct {
		style NameStyle
		want  []string
	}{
		{NameUnderscore, []string{"orders_created_date", "orders_created_date_2", "orders_created_date_3", "users_n_me", "column_5", "ORDERS_CREATED_DATE_4", "orders_created_date_2_2"}},
		{"", []string{"orders_created_date", "orders_created_date_2", "orders_created_date_3", "users_n_me", "column_5", "ORDERS_CREATED_DATE_4", "orders_created_date_2_2"}},
		{NameField, []string{"orders.created_date", "orders.created-date", "orders_created_date", "users.näme", "column_5", "ORDERS.CREATED_DATE_2", "orders.created_date_2_2"}},
		{NameLabel, []string{"Orders Created Date", "Orders Created Date_2", "orders_created_date", "Users Näme", "column_5", "orders created date_3", "x"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.style), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ColumnNames(schema, tt.style))
		})
	}
	require.Empty(t, ColumnNames(Schema{}, NameUnderscore))
}

func TestParseNameStyle(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]NameStyle{"": NameUnderscore, "underscore": NameUnderscore, "field": NameField, "label": NameLabel} {
		got, err := ParseNameStyle(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := ParseNameStyle("camel")
	require.ErrorContains(t, err, `unknown column name style "camel"`)
}

// TestUnderscoreNamesValidForBigQuery: the default style always gives
// names BigQuery loads: no leading digit, no reserved prefix, at most 300
// characters, even after a suffix that makes a name unique.
func TestUnderscoreNamesValidForBigQuery(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300) + ".field"
	pivot := &Pivot{Measure: "orders.count", Values: []string{strings.Repeat("ü", 200), "2024"}}
	schema := Schema{Fields: []Field{
		{Name: "1st.col"},
		{Name: "_TABLE_.suffix"},
		{Name: "_file_.name"},
		{Name: "_partitiontime"},
		{Name: "__root__.x"},
		{Name: "_row_timestamp"},
		{Name: long},
		{Name: long + "2"},
		{Name: "orders.count|x", Pivot: pivot},
		{Name: "orders.count|y", Pivot: pivot},
		{Name: "東京"},
		{Name: "ok.name"},
	}}
	got := ColumnNames(schema, NameUnderscore)
	seen := map[string]bool{}
	for i, name := range got {
		require.NoError(t, CheckBigQueryName(name), "field %q", schema.Fields[i].Name)
		require.False(t, seen[strings.ToLower(name)], "duplicate %q", name)
		seen[strings.ToLower(name)] = true
	}
	require.Equal(t, "col_1st_col", got[0])
	require.Equal(t, "col__TABLE__suffix", got[1])
	require.Equal(t, "ok_name", got[11])
	require.Len(t, got[6], 300)
	require.Len(t, got[7], 300)
	require.Equal(t, "__", got[10])
}

func TestCheckBigQueryName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"a": "", "_a": "", "A_1": "", strings.Repeat("a", 300): "",
		"": "empty", "1a": "starts with a digit", "a.b": `holds '.'`, "a b": `holds ' '`, "né": `holds 'é'`,
		strings.Repeat("a", 301): "at most 300", "_table_x": "reserves", "_PARTITIONTIME": "reserves", "__ROOT__": "reserves",
	} {
		err := CheckBigQueryName(name)
		if want == "" {
			require.NoError(t, err, name)
		} else {
			require.ErrorContains(t, err, want, name)
		}
	}
}
