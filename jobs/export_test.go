package jobs

// Every is every, for the tests of package jobs_test.
var Every = every
