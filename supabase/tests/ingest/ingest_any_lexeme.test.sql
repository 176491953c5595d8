-- public.ingest_any_lexeme and public.ingest_lexeme_pairs, the tsqueries search_chunks builds from the
-- question's lexemes: each lexeme is quoted, so one holding tsquery syntax (operators, a prefix mark,
-- quotes, backslashes) stays a single literal lexeme and cannot change the query; no lexemes, no query.
begin;
select plan(9);

select is(ingest_any_lexeme(array['cat', 'dog'])::text, $$'cat' | 'dog'$$, 'an OR of the lexemes');
select is(ingest_any_lexeme('{}'), null, 'no lexemes: null, not an empty query');
select is(ingest_any_lexeme(array['a & !b'])::text, $$'a & !b'$$, 'operators inside a lexeme stay part of it');
select ok(not ('dog'::tsvector @@ ingest_any_lexeme(array['d:*'])), 'a prefix mark is not a prefix search');
select ok($$'d:*'$$::tsvector @@ ingest_any_lexeme(array['d:*']), 'it matches only that literal lexeme');
select is(ingest_any_lexeme(array['it''s'])::text, $$'it''s'$$, 'a quote is doubled');
select ok($$'c\\d'$$::tsvector @@ ingest_any_lexeme(array['c\d']), 'a backslash is kept literally');
select is(numnode(ingest_any_lexeme(array['x | y', 'z'])), 3, 'a lexeme holding | is one operand, not two');

select is(ingest_lexeme_pairs(array['a', 'b', 'c'])::text, $$'a' & 'b' | 'a' & 'c' | 'b' & 'c'$$,
          'pairs: each two lexemes ANDed, the pairs ORed');

select * from finish();
rollback;
