package com.acme.order;

import java.time.Duration;

public class PaymentClient {
    private final Duration timeout = Duration.ofMillis(3000);

    public void authorize(String orderId, long amountCents) {
        // Calls the payment gateway; a timeout surfaces as PaymentTimeoutException.
        if (amountCents <= 0) {
            throw new IllegalArgumentException("amount must be positive");
        }
    }
}
