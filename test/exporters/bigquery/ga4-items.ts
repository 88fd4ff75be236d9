/**
 * The `items` column of GA4's BigQuery export (https://support.google.com/analytics/answer/7029846,
 * "items RECORD"): a REPEATED RECORD, the fields an otelytics items list carries, with GA4's names
 * and types. `item_list_index` is STRING in GA4's export; the event's items carry it as `index`.
 */
export const GA4_ITEMS_COLUMN = {
  name: 'items',
  type: 'RECORD',
  mode: 'REPEATED',
  source: 'properties.items',
  description: 'GA4 ecommerce items, as in the GA4 BigQuery export.',
  fields: [
    { name: 'item_id', type: 'STRING' },
    { name: 'item_name', type: 'STRING' },
    { name: 'item_brand', type: 'STRING' },
    { name: 'item_variant', type: 'STRING' },
    { name: 'item_category', type: 'STRING' },
    { name: 'price', type: 'FLOAT' },
    { name: 'quantity', type: 'INTEGER' },
    { name: 'coupon', type: 'STRING' },
    { name: 'item_list_name', type: 'STRING' },
    { name: 'item_list_index', type: 'STRING', source: 'index' },
  ],
} as const;
