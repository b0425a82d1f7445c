-- Each (batch_id, custom_id) has at most one result line across a batch's output and error
-- files. A duplicate would be billed twice, so it fails the build; each failure row names
-- the request and lists its lines as file_kind:file_id:line_number.
with

batch_results as (

    select * from {{ ref('stg_together__batch_results') }}
    -- Lines of batches built before were checked then: an incremental build checks the rest.
    where {{ is_batch_to_build('batch_id') }}

)

select
    batch_id,
    custom_id,
    count(*) as result_lines,
    string_agg(
        result_file_kind || ':' || result_file_id || ':' || result_line_number,
        ', '
        order by result_file_kind, result_file_id, result_line_number
    ) as lines

from batch_results
group by batch_id, custom_id
having count(*) > 1
