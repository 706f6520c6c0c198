package com.acme.order;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;

@Service
public class OrderService {
    private static final Logger log = LoggerFactory.getLogger(OrderService.class);
    private final UserClient users;
    private final PaymentClient payments;

    public OrderService(UserClient users, PaymentClient payments) {
        this.users = users;
        this.payments = payments;
    }

    public OrderReceipt placeOrder(OrderRequest request) {
        try {
            UserView buyer = users.getUser(request.userId());
            payments.authorize(request.orderId(), request.amount());
            return new OrderReceipt(request.orderId(), buyer.displayName());
        } catch (RuntimeException e) {
            log.error("Failed to place order {}", request.orderId(), e);
            throw e;
        }
    }
}
