-- BM25 search with fewer reads (docs/ingest.md, "Search"); see search_chunks below.

-- search_chunks sets pgvector's hnsw.* parameters, which a non-superuser may name in a function's SET
-- only once the extension's library has defined them in this session; reading a vector loads it.
do $$ begin perform '[0]'::extensions.vector; end $$;

-- Each pair of the lexemes ANDed, the pairs ORed: a chunk matches when it holds two of them.
create or replace function public.ingest_lexeme_pairs(lexemes text[])
returns tsquery
language sql
immutable
parallel safe
as $$
  select string_agg(format('(%s & %s)', public.ingest_any_lexeme(array[a.l]), public.ingest_any_lexeme(array[b.l])), ' | ')::tsquery
  from unnest(lexemes) with ordinality a(l, i)
  join unnest(lexemes) with ordinality b(l, j) on a.i < b.j
$$;

-- search_chunks as 20261128002100 defined it, with fewer reads. At 100k chunks on a shared machine the
-- text half's cost was the heap blocks it touched, one per candidate and rarely cached, and unnesting each
-- candidate's whole fts: now at most 300 candidates, chosen better when every word is common, and term
-- frequencies taken from each candidate's fts cut down to the query's lexemes.
--
-- One result per page. The chunk lists of both halves are fused by reciprocal rank fusion
-- (1 / (rrf_k + rank), summed), then each page keeps its best chunk: fusing before collapsing lets a
-- page whose best vector chunk and best text chunk are one chunk win, which collapsing first loses.
--
-- Vector half: the 4 * match_count nearest chunks of `model_name` by cosine distance (HNSW). Skipped
-- when query_embedding is null: text-only search.
--
-- Text half: BM25 (k1 1.2, b 0.75) over an OR of the question's lexemes, so a chunk need not contain
-- every word of a question. At most 32 lexemes, the rarest. Candidates, at most 300 plus the vector
-- candidates, each scored on every query lexeme: every chunk holding one of the rarest lexemes while their
-- chunk counts add up to at most 300 (always at least the rarest one); when even the rarest is in more
-- than 300 chunks, the chunks holding two of the four rarest, and only if fewer than match_count do, a
-- sample of those holding the rarest (physical order). A chunk holding only common words of the question
-- is not a candidate; its score is low by construction (common words have a low IDF).
create or replace function public.search_chunks(
  query_embedding extensions.vector(512),
  query_text text,
  match_count integer default 10,
  model_name text default null,
  source_filter bigint default null,
  rrf_k integer default 60
)
returns table (
  chunk_id bigint,
  document_id bigint,
  title text,
  url text,
  source_path text,
  heading_path text[],
  content text,
  snippet text,
  similarity double precision,
  bm25 double precision,
  score double precision
)
language plpgsql
stable
set search_path = public, extensions
-- Filters on model/source would otherwise cut the HNSW candidate list short.
set hnsw.iterative_scan = relaxed_order
-- recall@10 0.957 at 100k chunks (0.927 at 100); bench/search.ts measures it with the same setting.
set hnsw.ef_search = 200
-- Plan each call with its arguments: a generic plan cannot see the limits or the absent filters and
-- scanned every embedding exactly (docs/ingest.md).
set plan_cache_mode = force_custom_plan
as $$
#variable_conflict use_column
declare
  k1 constant double precision := 1.2;
  b constant double precision := 0.75;
  candidate_cap constant integer := 300;
  n_chunks double precision;
  avg_len double precision;
  lexemes text[];
  idfs double precision[];
  candidate_query tsquery;
  pair_query tsquery;
  rarest_df double precision;
  candidate_ids bigint[];
  any_query tsquery;
  per_list integer := greatest(match_count, 1) * 4;
  vec_ids bigint[];
  vec_distances double precision[];
  txt_ids bigint[];
  txt_scores double precision[];
begin
  select s.chunks, s.avg_length into n_chunks, avg_len from search_corpus s;
  n_chunks := greatest(coalesce(n_chunks, 0), 1);
  avg_len := greatest(coalesce(avg_len, 0), 1);

  select array_agg(q.lexeme order by q.df, q.lexeme),
         array_agg(ln(1 + (n_chunks - q.df + 0.5) / (q.df + 0.5)) order by q.df, q.lexeme),
         public.ingest_any_lexeme(array_agg(q.lexeme) filter (where q.cum <= candidate_cap or q.n = 1)),
         min(q.df)
    into lexemes, idfs, candidate_query, rarest_df
  from (
    select l.lexeme, l.df,
           sum(l.df) over (order by l.df, l.lexeme) as cum,
           row_number() over (order by l.df, l.lexeme) as n
    from (
      select t.lexeme, least(coalesce(s.chunks, 0), n_chunks) as df
      from unnest(tsvector_to_array(to_tsvector('english', query_text))) t(lexeme)
      left join search_lexemes s on s.lexeme = t.lexeme
      order by 2, 1
      limit 32
    ) l
  ) q;
  any_query := public.ingest_any_lexeme(lexemes);

  -- Separate statements: which candidates the text half takes depends on what the first query found.
  if query_embedding is not null then
    select array_agg(v.id order by v.distance, v.id), array_agg(v.distance order by v.distance, v.id)
      into vec_ids, vec_distances
    from (
      select c.id, c.embedding <=> query_embedding as distance
      from chunks c
      join documents d on d.id = c.document_id
      where c.model = model_name and (source_filter is null or d.source_id = source_filter)
      order by c.embedding <=> query_embedding
      limit per_list
    ) v;
  end if;

  if lexemes is not null then
    -- Candidates (docs/ingest.md): every chunk holding one of the rarest lexemes while they are rare
    -- enough; when even the rarest is common, the chunks holding two of the four rarest (few, and the
    -- likeliest to rank), and only if fewer than match_count do, a sample of those holding the rarest.
    if rarest_df > candidate_cap and cardinality(lexemes) >= 2 then
      pair_query := public.ingest_lexeme_pairs(lexemes[1:4]);
      select array_agg(c.id) into candidate_ids
      from (
        select c.id from chunks c
        where c.fts @@ pair_query
          and (source_filter is null
            or exists (select from documents d where d.id = c.document_id and d.source_id = source_filter))
        limit candidate_cap
      ) c;
    end if;
    if coalesce(cardinality(candidate_ids), 0) < match_count then
      select array_agg(c.id) into candidate_ids
      from (
        select c.id from chunks c
        where c.fts @@ candidate_query
          and (source_filter is null
            or exists (select from documents d where d.id = c.document_id and d.source_id = source_filter))
        limit candidate_cap
      ) c;
    end if;

    -- Term frequencies: the candidate's fts cut down to the query's lexemes (marked with weight A, then
    -- filtered on it) before it is unnested, a few lexemes a chunk instead of all of them.
    select array_agg(s.id order by s.bm25 desc, s.id), array_agg(s.bm25 order by s.bm25 desc, s.id)
      into txt_ids, txt_scores
    from (
      select c.id,
        sum(q.idf * cardinality(u.positions) * (k1 + 1)
            / (cardinality(u.positions) + k1 * (1 - b + b * c.fts_length / avg_len))) as bm25
      from chunks c
      cross join lateral unnest(ts_filter(setweight(setweight(c.fts, 'D'), 'A', lexemes), '{a}')) u
      join unnest(lexemes, idfs) as q(lexeme, idf) on q.lexeme = u.lexeme
      where c.id = any(candidate_ids || vec_ids)
      group by c.id
      order by bm25 desc, c.id
      limit per_list
    ) s;
  end if;

  return query
  with v as (
    select * from unnest(vec_ids, vec_distances) with ordinality as v(id, distance, rank)
  ),
  t as (
    select * from unnest(txt_ids, txt_scores) with ordinality as t(id, bm25, rank)
  ),
  fused as (
    select coalesce(v.id, t.id) as id,
      1 - v.distance as similarity,
      t.bm25,
      -- Text-only search orders by BM25 itself; hybrid by the fused rank.
      case when query_embedding is null then t.bm25
           else coalesce(1.0 / (rrf_k + v.rank), 0) + coalesce(1.0 / (rrf_k + t.rank), 0) end as score
    from v
    full outer join t on t.id = v.id
  ),
  best_per_page as (
    select distinct on (c.document_id) f.id, f.similarity, f.bm25, f.score
    from fused f
    join chunks c on c.id = f.id
    order by c.document_id, f.score desc, f.id
  ),
  top as (
    select * from best_per_page order by score desc, id limit match_count
  )
  select c.id, d.id, d.title, d.url, d.source_path, c.heading_path, c.content,
    -- `**` marks the question's words: markdown, like the text, and never markup a page could inject.
    -- A question without a single searchable word (only stop words) has no words to mark.
    coalesce(ts_headline('english', c.content, any_query,
      'StartSel=**, StopSel=**, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "'),
      left(c.content, 200)),
    p.similarity, p.bm25, p.score::double precision
  from top p
  join chunks c on c.id = p.id
  join documents d on d.id = c.document_id
  order by p.score desc, p.id;
end
$$;

revoke all on function public.search_chunks(extensions.vector, text, integer, text, bigint, integer) from public, anon, authenticated;
