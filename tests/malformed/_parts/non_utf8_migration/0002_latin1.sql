-- café (latin-1)
CREATE TABLE b (id INTEGER);
