package com.acme.user

import org.springframework.web.bind.annotation.GetMapping
import org.springframework.web.bind.annotation.PathVariable
import org.springframework.web.bind.annotation.RestController

@RestController
class UserController(private val users: UserService) {

    @GetMapping("/users/{id}")
    fun get(@PathVariable id: Long): UserView {
        val user = users.find(id)
        return UserView(id = user.id, displayName = users.displayName(user))
    }
}

data class UserView(val id: Long, val displayName: String)
