package api

// GenericGraphQL turns the orders page writer (graphqlpage.go) off, so
// that tests compare its answers with gqlgen's.
func GenericGraphQL(off bool) { genericGraphQL = off }
