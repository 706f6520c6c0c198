package com.acme.order;

import org.springframework.web.client.RestClient;
import org.springframework.web.client.HttpServerErrorException;

public class UserClient {
    private final RestClient http;

    public UserClient(RestClient http) {
        this.http = http;
    }

    public UserView getUser(long userId) {
        try {
            return http.get().uri("/users/{id}", userId).retrieve().body(UserView.class);
        } catch (HttpServerErrorException e) {
            throw new UserServiceException("user-service answered " + e.getStatusCode() + " for user " + userId, e);
        }
    }
}
