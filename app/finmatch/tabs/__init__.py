"""FinMatch's tabs, one module each, in the order the page shows them; each draws its tab from a Page (page.py).

overview (the cards and the monthly trend), distributions (the charts of the selection), who_to_act_on
(customers with an open recommendation, most urgent first), campaigns (the customers most worth offering a
product), match (the products to offer one customer next), insights (written from the figures) and explorer
(the records themselves). widgets.py holds what several tabs show alike: tables, CSV downloads, masking.
"""
