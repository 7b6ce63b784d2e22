"""Reference values of libraries that do not live in the tested environment, and the data
sets they were computed on."""
