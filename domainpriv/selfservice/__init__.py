"""Customer self-service: what a customer (or its reseller, or support staff on an e-mailed request) may change
about its own registrations, with the tenant checks, the notices and the change-of-registrant rule around the
registration services. The portal and the API are thin layers over these functions."""
