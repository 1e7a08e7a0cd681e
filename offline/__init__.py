"""The offline render: the real program under Pulumi's mock engine, writing what it declares."""
