package com.acme.user

import org.springframework.stereotype.Service

@Service
class UserService(private val repository: UserRepository) {

    fun find(id: Long): User =
        repository.findById(id) ?: throw UserNotFoundException(id)

    fun displayName(user: User): String {
        val base = "${user.firstName} ${user.lastName}"
        return base.trim()
    }
}

class UserNotFoundException(id: Long) : RuntimeException("user $id not found")
