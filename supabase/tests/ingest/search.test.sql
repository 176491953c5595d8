-- Search: public.refresh_search_stats counts BM25's collection statistics (chunks per lexeme, the chunk
-- count and average length), and public.search_chunks ranks chunks by BM25 (k1 1.2, b 0.75) when the
-- question has no embedding, by reciprocal rank fusion with the vector half when it has one, and answers
-- one chunk per page (its best), only from the source asked for.
begin;
select plan(14);

create function pg_temp.onehot(k int) returns extensions.vector language sql as $$
  select ('[' || array_to_string(array(select case when i = k then 1 else 0 end from generate_series(1, 512) i), ',') || ']')::extensions.vector
$$;

insert into public.ingest_sources (id, kind, name) values (1, 'markdown_dir', 'one'), (2, 'markdown_dir', 'two');
insert into public.documents (id, source_id, source_path, source_type, content_hash, model, run_id) values
  (1, 1, 'pets.md', 'markdown', 'h1', 'm', 'r'), (2, 1, 'dogs.md', 'markdown', 'h2', 'm', 'r'),
  (3, 2, 'naps.md', 'markdown', 'h3', 'm', 'r');
insert into public.chunks (id, document_id, chunk_index, content, embedding, model) values
  (11, 1, 0, 'The cat sat on the mat. The cat purred.', pg_temp.onehot(1), 'm'),
  (12, 1, 1, 'A long chapter about gardens, flowers, trees, soil, water and one cat among many other words.', pg_temp.onehot(2), 'm'),
  (21, 2, 0, 'Dogs bark at the mailman every morning.', pg_temp.onehot(3), 'm'),
  (31, 3, 0, 'My cat naps.', pg_temp.onehot(4), 'm');

select refresh_search_stats();
select is((select chunks from search_corpus), 4::bigint, 'the statistics count every chunk');
select is((select avg_length from search_corpus), (select avg(fts_length)::double precision from chunks),
          'and their average length in lexeme positions');
select is((select chunks from search_lexemes where lexeme = 'cat'), 3, 'and in how many chunks each lexeme occurs');
delete from chunks where id = 21;
select refresh_search_stats();
select is((select chunks from search_corpus), 3::bigint, 'a refresh replaces them');
select is_empty($$select from search_lexemes where lexeme = 'dog'$$, 'dropping lexemes no chunk holds any more');
insert into public.chunks (id, document_id, chunk_index, content, embedding, model) values
  (21, 2, 0, 'Dogs bark at the mailman every morning.', pg_temp.onehot(3), 'm');
select refresh_search_stats();

create temporary table text_only on commit drop as select * from search_chunks(null, 'cats', 10);
select is((select array_agg(document_id order by document_id) from text_only), array[1, 3]::bigint[],
          'text search finds the pages holding the word, one result per page');
select is((select chunk_id from text_only where document_id = 1), 11::bigint, 'each page answers with its best chunk');
select ok((select bool_and(score = bm25 and similarity is null) from text_only), 'without an embedding the score is BM25');
select is((select round(bm25::numeric, 9) from text_only where chunk_id = 31),
          (select round((ln(1 + (4 - 3 + 0.5) / (3 + 0.5)) * 2.2 / (1 + 1.2 * (0.25 + 0.75 * c.fts_length / s.avg_length)))::numeric, 9)
             from chunks c, search_corpus s where c.id = 31),
          'BM25 with k1 1.2 and b 0.75 over the refreshed statistics');
select is((select array_agg(document_id) from search_chunks(null, 'cats', 10, source_filter => 2)), array[3]::bigint[],
          'a source filter keeps to that source');
select is_empty($$select from search_chunks(null, 'the and of', 10)$$, 'a question of stop words only finds nothing');

create temporary table hybrid on commit drop as select * from search_chunks(pg_temp.onehot(3), 'cats', 10, 'm');
select is((select similarity from hybrid where chunk_id = 21), 1::double precision,
          'with an embedding the nearest chunk is found though it lacks the word');
select is((select score from hybrid where chunk_id = 21), 1.0::double precision / 61,
          'scored by reciprocal rank fusion: first in the vector list, absent from the text one');
select ok(not exists (select from search_chunks(pg_temp.onehot(3), 'cats', 10, 'other model') where chunk_id = 21),
          'the vector half searches only the model asked for');

select * from finish();
rollback;
