package formats

import (
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
